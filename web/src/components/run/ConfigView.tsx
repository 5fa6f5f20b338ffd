// A run's configuration: the key hyperparameters, then the whole JSON, collapsible.
import { keyParams } from '../../lib/config';
import { formatValue } from '../../lib/format';

export function ConfigView({ config }: { config: Record<string, unknown> }) {
  const keys = keyParams(config);
  const empty = Object.keys(config).length === 0;
  return (
    <div className="config">
      {empty ? (
        <p className="muted">This run saved no configuration.</p>
      ) : keys.length > 0 ? (
        <table className="table table-compact table-kv" data-testid="key-params">
          <tbody>
            {keys.map(([path, value]) => (
              <tr key={path}>
                <th className="mono">{path}</th>
                <td className="mono">{formatValue(value)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p className="muted">No well-known hyperparameters; see the full configuration.</p>
      )}
      {!empty && (
        <details className="json">
          <summary>Full configuration (JSON)</summary>
          <pre>{JSON.stringify(config, null, 2)}</pre>
        </details>
      )}
    </div>
  );
}
