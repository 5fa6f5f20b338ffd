// Colored status of a run (running, completed, stopped, failed) or an episode.

const KNOWN = new Set(['running', 'completed', 'stopped', 'failed', 'started', 'truncated', 'error']);

export function StatusBadge({ status }: { status: string }) {
  const kind = KNOWN.has(status) ? status : 'unknown';
  return (
    <span className={`badge badge-${kind}`} data-status={status}>
      {(status === 'running' || status === 'started') && <span className="badge-dot" aria-hidden="true" />}
      {status}
    </span>
  );
}
