/** Shapes of the MLflow REST API (2.x, also served by 3.x). Empty lists are omitted by the server. */

export interface KeyValue {
  key: string;
  value: string;
}

/** The server returns NaN as the JSON string "NaN". */
export type WireMetricValue = number | 'NaN' | 'Infinity' | '-Infinity';

export interface Metric {
  key: string;
  value: number;
  timestamp: number;
  step: number;
}

export interface Experiment {
  experiment_id: string;
  name: string;
  artifact_location?: string;
  lifecycle_stage?: string;
  creation_time?: number;
  last_update_time?: number;
  tags?: KeyValue[];
}

export type RunStatus = 'RUNNING' | 'SCHEDULED' | 'FINISHED' | 'FAILED' | 'KILLED';

export interface RunInfo {
  run_id: string;
  run_uuid?: string;
  experiment_id: string;
  run_name?: string;
  user_id?: string;
  status: RunStatus;
  start_time?: number;
  end_time?: number;
  artifact_uri: string;
  lifecycle_stage?: string;
}

export interface Run {
  info: RunInfo;
  data: { metrics?: Metric[]; params?: KeyValue[]; tags?: KeyValue[] };
}

export interface ModelVersion {
  name: string;
  version: string;
  source?: string;
  run_id?: string;
  current_stage?: string;
  status?: string;
  description?: string;
  tags?: KeyValue[];
  aliases?: string[];
  run_link?: string;
  creation_timestamp?: number;
  last_updated_timestamp?: number;
}

export interface RegisteredModel {
  name: string;
  description?: string;
  creation_timestamp?: number;
  last_updated_timestamp?: number;
  tags?: KeyValue[];
  /** `registered-models/get` lists aliases as objects, unlike model versions. */
  aliases?: Array<{ alias: string; version: string }>;
}

export type ModelStage = 'None' | 'Staging' | 'Production' | 'Archived';
