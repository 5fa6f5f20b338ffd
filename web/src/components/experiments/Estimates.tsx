// Estimates with their 95% intervals: one inline ("195.3 [180.1, 210.4]"), the final-score
// table of a group, the x-axis picker of group curves.
import type { Estimate, FinalScores, XAxis } from '../../api/types';
import { decimalsFor, formatEstimate } from '../../lib/estimates';
import { X_AXES } from '../../lib/groups';

export function EstimateText({ estimate, digits }: { estimate: Estimate | null | undefined; digits?: number }) {
  const { value, low, high } = estimate ?? {};
  const text = formatEstimate(value, low, high, digits ?? decimalsFor(value, low, high));
  const cut = text.indexOf(' [');
  if (cut < 0) return <span className="estimate">{text}</span>;
  return (
    <span className="estimate">
      {text.slice(0, cut)} <span className="ci">{text.slice(cut + 1)}</span>
    </span>
  );
}

type ScoreKey = 'iqm' | 'median' | 'mean' | 'optimality_gap';

export const SCORE_ROWS: { key: ScoreKey; label: string; hint: string }[] = [
  { key: 'iqm', label: 'IQM', hint: 'interquartile mean: the mean of the middle 50% of the runs' },
  { key: 'median', label: 'Median', hint: 'the middle run' },
  { key: 'mean', label: 'Mean', hint: 'the mean of all runs' },
  {
    key: 'optimality_gap',
    label: 'Optimality gap',
    hint: 'how far below the target score the runs fall, on average (lower is better)',
  },
];

/** Digits shared by a table's estimates, so their decimals line up. */
export function scoreDigits(scores: readonly (FinalScores | null)[]): number {
  const values: (number | null | undefined)[] = [];
  for (const s of scores) for (const row of SCORE_ROWS) values.push(s?.[row.key]?.value);
  return decimalsFor(...values);
}

export function FinalScoresTable({ scores, testId }: { scores: FinalScores; testId: string }) {
  const digits = scoreDigits([scores]);
  const rows = SCORE_ROWS.filter((r) => scores[r.key] !== null && scores[r.key] !== undefined);
  return (
    <table className="table table-compact" data-testid={testId} data-source={scores.source}>
      <thead>
        <tr>
          <th>Statistic</th>
          <th>Estimate [95% CI]</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r.key} data-score={r.key}>
            <th title={r.hint}>{r.label}</th>
            <td>
              <EstimateText estimate={scores[r.key]} digits={digits} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function XAxisPicker({ value, onChange }: { value: XAxis; onChange: (x: XAxis) => void }) {
  return (
    <div className="segmented" role="group" aria-label="x axis" data-testid="x-axis-picker">
      {X_AXES.map((a) => (
        <button key={a.value} type="button" aria-pressed={a.value === value} onClick={() => onChange(a.value)}>
          {a.label}
        </button>
      ))}
    </div>
  );
}
