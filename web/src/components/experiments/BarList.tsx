// A horizontal bar chart of named non-negative values (parameter importances), largest first,
// each bar's length its share of the largest.
import { formatNumber } from '../../lib/format';

export function BarList({
  items,
  testId,
  format = (v) => formatNumber(v, 3),
}: {
  items: readonly { label: string; value: number }[];
  testId?: string;
  format?: (v: number) => string;
}) {
  const sorted = [...items].sort((a, b) => b.value - a.value);
  const top = sorted.reduce((m, it) => Math.max(m, it.value), 0);
  return (
    <div className="bar-list" data-testid={testId}>
      {sorted.map((it) => (
        <div className="bar-row" key={it.label} data-label={it.label} data-value={it.value}>
          <span className="bar-label mono" title={it.label}>
            {it.label}
          </span>
          <span className="bar-track">
            <span className="bar-fill" style={{ width: `${top > 0 ? (100 * Math.max(0, it.value)) / top : 0}%` }} />
          </span>
          <span className="bar-value num">{format(it.value)}</span>
        </div>
      ))}
    </div>
  );
}
