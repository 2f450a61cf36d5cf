"""Writes a DVC 3 repository with pipeline features the way DVC 3.64 writes them, plus its two remotes.

Usage: make_pipeline_fixture.py <out-dir>

Independent of the TypeScript code under test: `.dir` manifests are `json.dumps(sort_keys=True)` of the
listing sorted by relpath (dvc-data's Tree.as_bytes), objects sit at `files/md5/<2>/<30>`, and `dvc.lock`
records out paths relative to each stage's wdir. Writes `<out-dir>/expected.tsv`: every file a full
`dvc pull` places (path, size, md5), and `<out-dir>/git-files.tsv`: the git-tracked `cache: false` outs.
"""

import hashlib
import json
import os
import sys

out_dir = sys.argv[1]
repo = os.path.join(out_dir, "repo")
remotes = {"store": os.path.join(out_dir, "remote-store"), "models": os.path.join(out_dir, "remote-models")}
expected = []  # (path, bytes) DVC places in the workspace
git_files = []  # (path, bytes) committed to git (cache: false)


def md5(data):
    return hashlib.md5(data).hexdigest()


def write(path, data):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def push(remote, oid, data):
    write(os.path.join(remotes[remote], "files", "md5", oid[:2], oid[2:]), data)


def blob(seed, size):
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1
    return bytes(out[:size])


def file_out(path, data, remote="store", pushed=True):
    """A file out at repo path `path`; returns its lock/.dvc fields."""
    if pushed:
        push(remote, md5(data), data)
    expected.append((path, data))
    return {"md5": md5(data), "size": len(data)}


def dir_out(path, files, remote="store"):
    """A directory out: files is {relpath: bytes}; returns its fields (md5 ends in .dir)."""
    entries = sorted(({"md5": md5(d), "relpath": r} for r, d in files.items()), key=lambda e: e["relpath"])
    manifest = json.dumps(entries, sort_keys=True).encode()
    oid = md5(manifest) + ".dir"
    push(remote, oid, manifest)
    for rel, data in files.items():
        push(remote, md5(data), data)
        expected.append((f"{path}/{rel}", data))
    return {"md5": oid, "size": sum(len(d) for d in files.values()), "nfiles": len(files)}


def git_file(path, data):
    write(os.path.join(repo, path), data)
    git_files.append((path, data))
    return {"md5": md5(data), "size": len(data)}


def yaml_out(fields, path):
    """An out as DVC 3 dumps it in a .dvc file: md5, size, nfiles, hash, path."""
    lines = [f"- md5: {fields['md5']}", f"  size: {fields['size']}"]
    if "nfiles" in fields:
        lines.append(f"  nfiles: {fields['nfiles']}")
    lines += ["  hash: md5", f"  path: {path}"]
    return "\n".join(lines) + "\n"


def lock_out(fields, path):
    """An out as DVC 3 dumps it in dvc.lock: path, hash, md5, size, nfiles."""
    lines = [f"    - path: {path}", "      hash: md5", f"      md5: {fields['md5']}", f"      size: {fields['size']}"]
    if "nfiles" in fields:
        lines.append(f"      nfiles: {fields['nfiles']}")
    return "\n".join(lines) + "\n"


def lock_stage(name, cmd, deps, outs):
    text = f"  {name}:\n    cmd: {cmd}\n"
    if deps:
        text += "    deps:\n" + "".join(lock_out(f, p) for p, f in deps)
    text += "    outs:\n" + "".join(lock_out(f, p) for p, f in sorted(outs))
    return text


write(
    os.path.join(repo, ".dvc", "config"),
    b"[core]\n    remote = store\n"
    b"['remote \"store\"']\n    url = ../../remote-store\n"
    b"['remote \"models\"']\n    url = ../../remote-models\n",
)
write(os.path.join(repo, ".dvc", ".gitignore"), b"/config.local\n/tmp\n/cache\n")
# Ignored paths inside a tracked directory never enter its manifest (dvc add skips them).
write(os.path.join(repo, ".dvcignore"), b"# scratch files of the labelling tool\ndata/images/**/*.tmp\n")

# .dvc files: a file, a directory with ignored scratch files, an empty directory.
raw = file_out("data/raw.csv", b"id,label\r\n1,cat\r\n2,dog\r\n")
write(os.path.join(repo, "data", "raw.csv.dvc"), ("outs:\n" + yaml_out(raw, "raw.csv")).encode())
images = dir_out(
    "data/images",
    {
        "cats/1.png": blob("cat1", 3000),
        "cats/2.png": blob("cat2", 5000),
        "dogs/1.png": blob("dog1", 4000),
        "labels.json": b'{"cats": 2, "dogs": 1}\n',
    },
)
write(os.path.join(repo, "data", "images.dvc"), ("outs:\n" + yaml_out(images, "images")).encode())
empty = dir_out("data/empty", {})
write(os.path.join(repo, "data", "empty.dvc"), ("outs:\n" + yaml_out(empty, "empty")).encode())

# An import from another DVC repository: the object is in our remote only because it was pushed there.
imported = file_out("data/registry/iris.csv", b"sepal_length,species\n5.1,setosa\n")
write(
    os.path.join(repo, "data", "registry", "iris.csv.dvc"),
    (
        "md5: 3f1c0e4e1b1a2d0c9d8e7f6a5b4c3d2e\nfrozen: true\ndeps:\n- path: data/iris.csv\n  repo:\n"
        "    url: https://github.com/iterative/dataset-registry\n"
        "    rev_lock: f31f5c4cdae787b4bdeb97a717687d44667d9e62\n"
        "outs:\n" + yaml_out(imported, "iris.csv")
    ).encode(),
)

# pipelines/nlp/dvc.yaml: wdir '..', nested templated wdirs, foreach, matrix, per-out remote and cache: false.
nlp = "pipelines/nlp"
write(os.path.join(repo, nlp, "params.yaml"), b"train:\n  seeds: [1, 2]\nsweep:\n  lr: [0.1, 0.01]\n")
write(
    os.path.join(repo, nlp, "dvc.yaml"),
    b"""stages:
  prepare:
    wdir: ..
    cmd: python nlp/prepare.py
    deps:
    - nlp/prepare.py
    outs:
    - prepared/text.txt
    - prepared/vocab:
        remote: models
  train:
    foreach: ${train.seeds}
    do:
      wdir: models/seed-${item}
      cmd: python ../../train.py --seed ${item}
      outs:
      - model.bin:
          remote: models
      metrics:
      - metrics.json:
          cache: false
  sweep:
    matrix:
      lr: ${sweep.lr}
      depth: [3]
    wdir: sweeps
    cmd: python ../sweep.py ${item.lr} ${item.depth}
    outs:
    - lr-${item.lr}/depth-${item.depth}.bin
    plots:
    - lr-${item.lr}/loss.csv:
        cache: false
""",
)
prepare_py = git_file(f"{nlp}/prepare.py", b"print('prepare')\n")
text = file_out("pipelines/prepared/text.txt", b"the quick brown fox\n")
vocab = dir_out("pipelines/prepared/vocab", {"en.txt": b"the\nquick\n", "sub/de.txt": b"der\n"}, remote="models")
lock = "schema: '2.0'\nstages:\n"
lock += lock_stage(
    "prepare",
    "python nlp/prepare.py",
    [("nlp/prepare.py", prepare_py)],
    [("prepared/text.txt", text), ("prepared/vocab", vocab)],
)
for seed in (1, 2):
    model = file_out(f"{nlp}/models/seed-{seed}/model.bin", blob(f"model{seed}", 20000), remote="models")
    metrics = git_file(f"{nlp}/models/seed-{seed}/metrics.json", f'{{"seed": {seed}}}\n'.encode())
    lock += lock_stage(
        f"train@{seed}",
        f"python ../../train.py --seed {seed}",
        [],
        [("metrics.json", metrics), ("model.bin", model)],
    )
for lr in ("0.1", "0.01"):
    weights = file_out(f"{nlp}/sweeps/lr-{lr}/depth-3.bin", blob(f"sweep{lr}", 7000))
    loss = git_file(f"{nlp}/sweeps/lr-{lr}/loss.csv", f"step,loss\n1,{lr}\n".encode())
    lock += lock_stage(
        f"sweep@{lr}-3",
        f"python ../sweep.py {lr} 3",
        [],
        [(f"lr-{lr}/depth-3.bin", weights), (f"lr-{lr}/loss.csv", loss)],
    )
write(os.path.join(repo, nlp, "dvc.lock"), lock.encode())

# The root dvc.yaml: a stage whose wdir is a subfolder, params and metrics not cached.
write(
    os.path.join(repo, "dvc.yaml"),
    b"""stages:
  featurize:
    wdir: features
    cmd: python make.py
    params:
    - featurize
    outs:
    - table.bin
    metrics:
    - scores.json:
        cache: false
""",
)
write(os.path.join(repo, "params.yaml"), b"featurize:\n  window: 3\n")
table = file_out("features/table.bin", blob("table", 9000))
scores = git_file("features/scores.json", b'{"auc": 0.9}\n')
write(
    os.path.join(repo, "dvc.lock"),
    (
        "schema: '2.0'\nstages:\n  featurize:\n    cmd: python make.py\n    params:\n      params.yaml:\n"
        "        featurize:\n          window: 3\n    outs:\n"
        + lock_out(scores, "scores.json")
        + lock_out(table, "table.bin")
    ).encode(),
)

# pipelines/cv/dvc.yaml: templating from vars files (dvc/parsing: params.yaml loaded by default, then each
# `vars` entry in order; `file:key1,key2` keeps only those top-level keys; mappings inline). Top-level vars
# files are relative to the dvc.yaml's folder, never to a stage's wdir; a stage's own vars are relative to
# its wdir. The decoy under work/conf/ would change every path if it were read instead.
cv = "pipelines/cv"
write(os.path.join(repo, cv, "params.yaml"), b"root: out\n")
write(os.path.join(repo, cv, "conf", "data.yaml"), b"data:\n  splits: [train, test]\n  fmt: parquet\nunused: 1\n")
write(
    os.path.join(repo, cv, "conf", "model.json"),
    json.dumps({"model": {"name": "resnet", "layers": 18}, "eval": {"metric": "acc"}, "other": 1}).encode(),
)
write(os.path.join(repo, cv, "work", "conf", "data.yaml"), b"data:\n  splits: [wrong]\n  fmt: bad\n")
write(os.path.join(repo, cv, "work", "local.yaml"), b"extra:\n  dir: heads\n")
write(
    os.path.join(repo, cv, "dvc.yaml"),
    b"""vars:
  - conf/data.yaml:data
  - conf/model.json:model,eval
  - tag: v2
stages:
  split:
    foreach: ${data.splits}
    do:
      wdir: work
      cmd: python split.py ${item} ${data.fmt}
      outs:
      - ${root}/${item}.${data.fmt}
  train:
    wdir: work
    vars:
      - local.yaml
    cmd: python train.py
    outs:
    - ${model.name}-${model.layers}-${tag}.bin
    - ${extra.dir}/head.bin
    metrics:
    - ${eval.metric}.json:
        cache: false
""",
)
lock = "schema: '2.0'\nstages:\n"
for split in ("train", "test"):
    part = file_out(f"{cv}/work/out/{split}.parquet", blob(f"split-{split}", 1500))
    lock += lock_stage(f"split@{split}", f"python split.py {split} parquet", [], [(f"out/{split}.parquet", part)])
weights = file_out(f"{cv}/work/resnet-18-v2.bin", blob("resnet", 6000))
head = file_out(f"{cv}/work/heads/head.bin", blob("head", 800))
acc = git_file(f"{cv}/work/acc.json", b'{"acc": 0.93}\n')
lock += lock_stage(
    "train", "python train.py", [], [("acc.json", acc), ("heads/head.bin", head), ("resnet-18-v2.bin", weights)]
)
write(os.path.join(repo, cv, "dvc.lock"), lock.encode())

# An ignored scratch file already in the workspace: DVC leaves it alone.
write(os.path.join(repo, "data", "images", "cats", "draft.tmp"), b"scratch\n")


def tsv(rows):
    return "".join(f"{p}\t{len(d)}\t{md5(d)}\n" for p, d in sorted(rows, key=lambda r: r[0].encode()))


write(os.path.join(out_dir, "expected.tsv"), tsv(expected).encode())
write(os.path.join(out_dir, "git-files.tsv"), tsv(git_files).encode())
