// The header actions of a list whose rows can be ticked for comparison (runs, groups): how many
// are ticked, Clear, and the Compare button (2 to ``max`` rows).
export function CompareActions({
  count,
  max,
  noun,
  testId,
  onClear,
  onCompare,
}: {
  count: number;
  max: number;
  noun: string; // plural: "runs", "groups"
  testId: string;
  onClear: () => void;
  onCompare: () => void;
}) {
  return (
    <div className="page-actions">
      <span className="muted small">{count > 0 ? `${count} selected` : `Tick ${noun} to compare them`}</span>
      {count > 0 && (
        <button type="button" className="btn btn-ghost" onClick={onClear}>
          Clear
        </button>
      )}
      <button
        type="button"
        className="btn btn-primary"
        data-testid={testId}
        disabled={count < 2 || count > max}
        title={count > max ? `At most ${max} ${noun}` : undefined}
        onClick={onCompare}
      >
        Compare{count >= 2 ? ` ${count} ${noun}` : ''}
      </button>
    </div>
  );
}
