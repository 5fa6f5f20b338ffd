// A run's checkpoints, evaluations, videos and other artifacts.
import { api } from '../../api/routes';
import { evaluationStep } from '../../lib/evaluations';
import type { Artifact, Checkpoint, Evaluation } from '../../api/types';
import {
  checkpointLabel,
  formatBytes,
  formatDateTime,
  formatInt,
  formatNumber,
  formatPercent,
} from '../../lib/format';
import { Empty } from '../States';

export function CheckpointsTable({ checkpoints }: { checkpoints: Checkpoint[] }) {
  if (checkpoints.length === 0) return <Empty title="No checkpoints saved" />;
  return (
    <div className="table-wrap">
      <table className="table table-compact" data-testid="checkpoints-table">
        <thead>
          <tr>
            <th>File</th>
            <th>Kind</th>
            <th className="num">Episode</th>
            <th className="num">Timestep</th>
            <th className="num">Size</th>
            <th>SHA-256</th>
            <th>Saved</th>
          </tr>
        </thead>
        <tbody>
          {checkpoints.map((c) => (
            <tr key={c.id}>
              <td className="mono" title={c.path}>
                <a href={api.checkpointDownload(c.id)} download>
                  {checkpointLabel(c.path)}
                </a>
              </td>
              <td>
                <span className={`kind kind-${c.kind}`}>{c.kind}</span>
              </td>
              <td className="num">{formatInt(c.episode_index)}</td>
              <td className="num">{formatInt(c.timestep)}</td>
              <td className="num">{formatBytes(c.size)}</td>
              <td className="mono muted" title={c.sha256}>
                {c.sha256.slice(0, 12)}
              </td>
              <td>{formatDateTime(c.created_at)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function EvaluationsTable({
  evaluations,
  checkpoints = [],
}: {
  evaluations: Evaluation[];
  checkpoints?: Checkpoint[];
}) {
  if (evaluations.length === 0) return <Empty title="No evaluations recorded" />;
  return (
    <div className="table-wrap">
      <table className="table table-compact" data-testid="evaluations-table">
        <thead>
          <tr>
            <th>Policy</th>
            <th>Checkpoint</th>
            <th className="num">Step</th>
            <th className="num">Episodes</th>
            <th className="num">Mean reward</th>
            <th className="num">Win rate</th>
            <th className="num">Mean length</th>
            <th>When</th>
          </tr>
        </thead>
        <tbody>
          {evaluations.map((e) => (
            <tr key={e.id}>
              <td>{e.opponent ?? 'agent'}</td>
              <td className="mono" title={e.checkpoint_path ?? undefined}>
                {checkpointLabel(e.checkpoint_path)}
              </td>
              <td className="num">{formatInt(evaluationStep(e, checkpoints))}</td>
              <td className="num">{formatInt(e.episodes)}</td>
              <td className="num">
                {formatNumber(e.mean_reward, 3)}
                {e.std_reward !== null && <span className="muted"> ± {formatNumber(e.std_reward, 2)}</span>}
              </td>
              <td className="num">{formatPercent(e.win_rate)}</td>
              <td className="num">{formatNumber(e.mean_length, 1)}</td>
              <td>{formatDateTime(e.created_at)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function isVideo(a: Artifact): boolean {
  return (a.media_type ?? '').startsWith('video/');
}

export function Videos({ videos }: { videos: Artifact[] }) {
  return (
    <div className="videos">
      {videos.map((v) => (
        <figure className="video" key={v.id}>
          <video controls preload="metadata" src={`${v.url}#t=0.1`} data-testid="video">
            <a href={v.url}>Download {v.name}</a>
          </video>
          <figcaption>
            <span>{v.name}</span>
            <span className="muted small">
              {formatBytes(v.size)} · {formatDateTime(v.created_at)}
            </span>
          </figcaption>
        </figure>
      ))}
    </div>
  );
}

export function ArtifactsList({ artifacts }: { artifacts: Artifact[] }) {
  return (
    <ul className="artifacts">
      {artifacts.map((a) => (
        <li key={a.id}>
          <a href={a.url} download>
            {a.name}
          </a>{' '}
          <span className="muted small">
            {a.kind} · {a.media_type ?? 'file'} · {formatBytes(a.size)}
          </span>
        </li>
      ))}
    </ul>
  );
}
