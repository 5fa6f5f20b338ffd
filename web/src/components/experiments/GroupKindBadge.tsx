// What made a group: the seeds of one setting, the trials of a sweep, or runs joined by name.
import type { GroupKind } from '../../api/types';

const LABELS: Record<GroupKind, string> = { seeds: 'seeds', sweep: 'sweep', manual: 'manual' };

export function GroupKindBadge({ kind }: { kind: GroupKind }) {
  return (
    <span className="tag" data-kind={kind}>
      {LABELS[kind] ?? kind}
    </span>
  );
}
