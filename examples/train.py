"""Train a breast-cancer classifier (scikit-learn) on the DVC-tracked CSV.

Writes metrics.json (final test metrics, DVC style), history.csv (one row per epoch) and model/, an MLflow
model directory (MLmodel, sklearn flavor, model.pkl: the scaler and classifier as one Pipeline).
Reads params.yaml; the seed comes from MLOPS_SEED (set by train-and-log) or defaults to 42.
"""

import json
import os
import pathlib
import pickle
import platform

import numpy as np
import pandas as pd
import sklearn
import yaml
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import accuracy_score, f1_score, log_loss, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler


def save_mlflow_sklearn(pipeline, features, out):
    """Writes an MLflow model directory (sklearn flavor, pickle) that `mlflow models serve`, MLServer and
    KServe's MLflow runtime load. No creation time or random uuid in MLmodel, so retraining on the same
    data and seed gives the same bytes."""
    out.mkdir(exist_ok=True)
    (out / "model.pkl").write_bytes(pickle.dumps(pipeline, protocol=4))
    python_version = platform.python_version()
    requirements = [f"scikit-learn=={sklearn.__version__}", f"numpy=={np.__version__}"]
    signature = {
        "inputs": json.dumps([{"type": "double", "name": name, "required": True} for name in features]),
        "outputs": json.dumps([{"type": "long", "required": True}]),
        "params": None,
    }
    mlmodel = {
        "flavors": {
            "python_function": {
                "env": {"conda": "conda.yaml", "virtualenv": "python_env.yaml"},
                "loader_module": "mlflow.sklearn",
                "model_path": "model.pkl",
                "predict_fn": "predict",
                "python_version": python_version,
            },
            "sklearn": {
                "code": None,
                "pickled_model": "model.pkl",
                "serialization_format": "pickle",
                "sklearn_version": sklearn.__version__,
            },
        },
        "signature": signature,
    }
    (out / "MLmodel").write_text(yaml.safe_dump(mlmodel, sort_keys=True))
    (out / "requirements.txt").write_text("\n".join(requirements) + "\n")
    (out / "python_env.yaml").write_text(
        yaml.safe_dump({"python": python_version, "build_dependencies": ["pip"], "dependencies": ["-r requirements.txt"]})
    )
    (out / "conda.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "mlflow-env",
                "channels": ["conda-forge"],
                "dependencies": [f"python={python_version}", "pip", {"pip": requirements}],
            }
        )
    )


def main() -> None:
    params = yaml.safe_load(pathlib.Path("params.yaml").read_text())
    train = params["train"]
    seed = int(os.environ.get("MLOPS_SEED", "42"))
    data = pd.read_csv(params["data"])
    x = data.drop(columns=["target"]).to_numpy()
    y = data["target"].to_numpy()
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=float(train["test_size"]), random_state=seed, stratify=y
    )
    scaler = StandardScaler().fit(x_train)
    x_train, x_test = scaler.transform(x_train), scaler.transform(x_test)

    model = SGDClassifier(loss="log_loss", alpha=float(train["alpha"]), random_state=seed)
    rng = np.random.default_rng(seed)
    rows = []
    for epoch in range(int(train["epochs"])):
        order = rng.permutation(len(x_train))
        model.partial_fit(x_train[order], y_train[order], classes=np.array([0, 1]))
        proba = model.predict_proba(x_test)[:, 1]
        rows.append(
            {
                "step": epoch,
                "train_loss": log_loss(y_train, model.predict_proba(x_train)[:, 1]),
                "val_loss": log_loss(y_test, proba),
                "val_accuracy": accuracy_score(y_test, proba >= 0.5),
            }
        )

    proba = model.predict_proba(x_test)[:, 1]
    predicted = proba >= 0.5
    metrics = {
        "test": {
            "accuracy": accuracy_score(y_test, predicted),
            "f1": f1_score(y_test, predicted),
            "roc_auc": roc_auc_score(y_test, proba),
            "log_loss": log_loss(y_test, proba),
        },
        "rows": {"train": int(len(x_train)), "test": int(len(x_test))},
    }
    pathlib.Path("metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    pd.DataFrame(rows).to_csv("history.csv", index=False)

    pipeline = Pipeline([("scaler", scaler), ("classifier", model)])
    save_mlflow_sklearn(pipeline, list(data.columns.drop("target")), pathlib.Path("model"))
    print(json.dumps(metrics["test"]))


if __name__ == "__main__":
    main()
