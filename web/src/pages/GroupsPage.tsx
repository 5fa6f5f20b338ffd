// The groups: runs that form one experiment (seeds of one setting, a sweep's trials, runs
// joined by name). Tick two or more to compare them.
import { useState } from 'react';
import { api } from '../api/routes';
import type { GroupSummary } from '../api/types';
import { CompareActions } from '../components/CompareActions';
import { GroupKindBadge } from '../components/experiments/GroupKindBadge';
import { Link } from '../components/Link';
import { Empty, ErrorState, Loading } from '../components/States';
import { useApi } from '../hooks/useApi';
import { formatDateTime, formatInt, shortId } from '../lib/format';
import { navigate, paths } from '../lib/router';

export const MAX_COMPARE_GROUPS = 8;

export function GroupsPage() {
  const groups = useApi<GroupSummary[]>(api.groups());
  const [selected, setSelected] = useState<string[]>([]);
  const toggle = (id: string) => setSelected((ids) => (ids.includes(id) ? ids.filter((x) => x !== id) : [...ids, id]));
  const rows = groups.data ?? [];

  return (
    <div className="page">
      <div className="page-header">
        <div>
          <h1>Groups</h1>
          <p className="subtitle">
            {groups.data ? `${formatInt(rows.length)} group${rows.length === 1 ? '' : 's'}` : ' '}
          </p>
        </div>
        <CompareActions
          count={selected.length}
          max={MAX_COMPARE_GROUPS}
          noun="groups"
          testId="compare-groups-button"
          onClear={() => setSelected([])}
          onCompare={() => navigate(paths.compareGroups(selected))}
        />
      </div>

      {groups.error ? (
        <ErrorState error={groups.error} what="Groups" />
      ) : groups.data === null ? (
        <Loading label="Loading groups…" />
      ) : rows.length === 0 ? (
        <Empty title="No groups yet">
          Train several seeds of one setting (<code>rltrack train --seeds 5</code>), join runs by name (
          <code>rltrack train --group NAME</code>) or run a sweep, and they show up here as one experiment.
        </Empty>
      ) : (
        <div className="table-wrap">
          <table className="table" data-testid="groups-table">
            <thead>
              <tr>
                <th className="check" aria-label="Select" />
                <th>Name</th>
                <th>Kind</th>
                <th className="num">Runs</th>
                <th>Made</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {rows.map((g) => (
                <tr key={g.id} data-group-id={g.id} className={selected.includes(g.id) ? 'selected' : undefined}>
                  <td className="check">
                    <input
                      type="checkbox"
                      aria-label={`Select ${g.name} to compare`}
                      checked={selected.includes(g.id)}
                      onChange={() => toggle(g.id)}
                    />
                  </td>
                  <td className="name-cell">
                    <Link href={paths.group(g.id)} className="run-link">
                      {g.name}
                    </Link>
                    <div className="cell-sub">
                      <span className="mono">{shortId(g.id)}</span>
                      {g.description ? <span className="muted"> {g.description}</span> : null}
                    </div>
                  </td>
                  <td>
                    <GroupKindBadge kind={g.kind} />
                  </td>
                  <td className="num" data-testid="group-runs-count">
                    {formatInt(g.runs)}
                  </td>
                  <td>{formatDateTime(g.created_at)}</td>
                  <td>{g.kind === 'sweep' && <Link href={paths.sweep(g.id)}>Sweep study</Link>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
