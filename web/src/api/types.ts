// The API's answers, as its OpenAPI document (/openapi.json) describes them: every type here is
// one of schema.gen.ts, which `npm run gen:api` generates from the document (never edit it by
// hand; tests/api/test_openapi_types.py fails when it is stale). Non-finite numbers are null.

import type { components, paths } from './schema.gen';

type Schemas = components['schemas'];

/** The values the episodes page's `status` filter takes. */
export type EpisodeStatus = NonNullable<
  NonNullable<paths['/api/training-runs/{run_id}/episodes']['get']['parameters']['query']>['status']
>;

export type EpisodePoint = Schemas['EpisodePointPublic'];
export type WinRatePoint = Schemas['WinRatePointPublic'];
export type RunMetrics = Schemas['RunMetricsPublic'];
export type RunStats = Schemas['RunStatsPublic'];
export type RunSummary = Schemas['RunSummaryPublic'];
export type Run = Schemas['RunPublic'];
export type Episode = Schemas['EpisodePublic'];
export type Trade = Schemas['TradePublic'];
export type StepTrace = Schemas['StepPublic'];
/** `/api/episodes/{id}`: the episode with its trades and its per-step trace, which the route
 * names `steps` (the step count of the other routes is `step_count` here). */
export type EpisodeDetail = Schemas['EpisodeDetailPublic'];
export type EpisodesPage = Schemas['EpisodesPagePublic'];
export type MetricStats = Schemas['StatSummaryPublic'];
export type EpisodesSummary = Schemas['EpisodeSummaryPublic'];
export type MetricPoint = Schemas['MetricPointPublic'];
export type MetricSeries = Schemas['MetricSeriesPublic'];
export type MetricsResponse = Schemas['RunTrainingMetricsPublic'];
export type Checkpoint = Schemas['CheckpointPublic'];
export type Evaluation = Schemas['EvaluationPublic'];
export type Artifact = Schemas['ArtifactPublic'];
export type DifferingParam = Schemas['ParamDiffPublic'];
export type CompareResponse = Schemas['ComparePublic'];
export type EpisodeModel = Schemas['EpisodeModelPublic'];
/** The data of an `event: run` of `/api/events`. */
export type RunEvent = Schemas['RunEventPublic'];
/** Every error answer's body. */
export type ApiErrorBody = Schemas['ErrorPublic'];

// -- groups: runs that form one experiment ----------------------------------------------------
export type GroupSummary = Schemas['GroupPublic'];
export type GroupKind = GroupSummary['kind'];
/** A point estimate with its 95% interval (`low`, `high` null without one). */
export type Estimate = Schemas['EstimatePublic'];
export type CurvePoint = Schemas['CurvePointPublic'];
export type RunCurve = Schemas['RunCurvePublic'];
export type FinalScores = Schemas['FinalScoresPublic'];
export type GroupRun = Schemas['GroupRunPublic'];
export type GroupStats = Schemas['GroupStatsPublic'];
export type GroupDetail = Schemas['GroupDetailPublic'];
/** The x axis of a group's curves. */
export type XAxis = GroupDetail['x'];
export type GroupsCompare = Schemas['GroupsComparePublic'];

// -- sweeps: Optuna studies whose trials are runs of a sweep group -----------------------------
export type Sweep = Schemas['SweepPublic'];
export type SweepTrial = Schemas['SweepTrialPublic'];
export type TrialState = SweepTrial['state'];
export type ParamAxis = Schemas['ParamAxisPublic'];
