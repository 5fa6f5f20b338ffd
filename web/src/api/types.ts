// The API's answers, as docs/api.md describes them. Numbers that were not finite are null.

export type RunStatus = 'running' | 'completed' | 'stopped' | 'failed';
export type EpisodeStatus = 'started' | 'completed' | 'truncated' | 'error';

export interface EpisodePoint {
  episode: number;
  total_reward: number | null;
  steps: number | null;
  win: number | null;
  epsilon: number | null;
}

export interface WinRatePoint {
  episode: number;
  win_rate: number | null;
}

export interface RunMetrics {
  episodes: EpisodePoint[];
  rolling_win_rate: WinRatePoint[];
  sampled: boolean;
  total: number;
}

export interface RunStats {
  finished: number | null;
  mean_reward: number | null;
  max_reward: number | null;
  min_reward: number | null;
  mean_steps: number | null;
  last_win_rate: number | null;
}

export interface RunSummary {
  id: string;
  run_id: string;
  name: string;
  agent_id: string | null;
  algorithm: string;
  env_id: string;
  status: RunStatus | string;
  start_time: string;
  end_time: string | null;
  duration_s: number | null;
  timesteps: number | null;
  tags: string[];
  config: Record<string, unknown>;
  episodes: number;
  metrics: RunMetrics;
  stats?: RunStats | null;
}

export interface Run extends RunSummary {
  backend: string;
  metadata: Record<string, unknown>;
  error: string | null;
  notes?: string | null;
  seed: number | null;
  parent_run_id: string | null;
  total_timesteps: number | null;
  heartbeat_at: string | null;
  checkpoint_paths: { episode: number | null; path: string }[];
}

export interface Episode {
  id: number;
  index: number;
  run_id: string;
  env_slot: number;
  agent_id: string | null;
  status: EpisodeStatus | string;
  start_time: string;
  end_time: string | null;
  start_timestep: number;
  end_timestep: number | null;
  steps: number | null;
  total_reward: number | null;
  win: number | null;
  epsilon: number | null;
  drain_steps: number;
  metrics: Record<string, unknown>;
}

export interface Trade {
  seq: number;
  direction: 'long' | 'short' | string;
  entry_step: number;
  exit_step: number;
  entry_time: string | null;
  exit_time: string | null;
  entry_price: number | null;
  exit_price: number | null;
  quantity: number | null;
  pnl: number | null;
  costs: number | null;
}

export interface StepTrace {
  step: number;
  action: number | null;
  reward: number | null;
  price: number | null;
  position: number | null;
  portfolio_value: number | null;
}

/** `/api/episodes/{id}`: the episode with its trades and its per-step trace, which the route
 * names `steps` (the step count of the other routes). */
export interface EpisodeDetailRaw extends Omit<Episode, 'steps'> {
  steps: StepTrace[] | number | null;
  /** The episode's step count, beside the trace. */
  step_count?: number | null;
  trades: Trade[];
}

export interface EpisodesPage {
  items: Episode[];
  total: number;
  next_cursor: string | number | null;
}

export interface MetricStats {
  count: number;
  mean: number | null;
  median: number | null;
  min: number | null;
  max: number | null;
}

export interface EpisodesSummary {
  count: number;
  metrics: Record<string, MetricStats>;
}

export interface MetricPoint {
  timestep: number;
  value: number | null;
  episodes: number | null;
}

export interface MetricSeries {
  points: MetricPoint[];
  total: number;
  sampled: boolean;
}

export interface MetricsResponse {
  keys: string[];
  series: Record<string, MetricSeries>;
}

export interface Checkpoint {
  id: number;
  path: string;
  episode_index: number | null;
  timestep: number;
  kind: string;
  sha256: string;
  size: number;
  created_at: string;
  metrics: Record<string, unknown>;
}

export interface Evaluation {
  id: number;
  checkpoint_id: number | null;
  checkpoint_path: string | null;
  episodes: number;
  mean_reward: number | null;
  std_reward: number | null;
  win_rate: number | null;
  mean_length: number | null;
  opponent: string | null;
  metrics: Record<string, unknown>;
  created_at: string;
}

export interface Artifact {
  id: number;
  kind: string;
  name: string;
  size: number | null;
  media_type: string | null;
  created_at: string;
  metadata: Record<string, unknown>;
  url: string;
}

export interface DifferingParam {
  key: string;
  values: Record<string, unknown>;
}

export interface CompareResponse {
  runs: Run[];
  differing_params: DifferingParam[];
}

export interface EpisodeModel {
  parameters: Record<string, unknown>;
  checkpoint: Checkpoint | null;
}

export interface RunEvent {
  run_id: string;
  status: string;
  episodes: number;
  timesteps: number;
}
