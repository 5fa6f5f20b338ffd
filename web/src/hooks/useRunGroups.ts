// Which group each run belongs to, for the runs list's "group by group": the groups, then each
// group's runs (the run entries carry no group, so a group's detail says who is in it; its
// curve asked for at two points keeps those answers small). Loaded only while ``enabled``.
import { useEffect, useState } from 'react';
import { ApiError, getJson, isAbort } from '../api/client';
import { api } from '../api/routes';
import type { GroupDetail, GroupSummary } from '../api/types';

export interface RunGroups {
  groups: Map<string, GroupSummary>;
  /** Run id → group id. */
  groupOf: Map<string, string>;
}

export interface RunGroupsState {
  data: RunGroups | null;
  error: ApiError | null;
}

export function useRunGroups(enabled: boolean, refreshKey: unknown): RunGroupsState {
  const [state, setState] = useState<RunGroupsState>({ data: null, error: null });
  useEffect(() => {
    if (!enabled) return undefined;
    const controller = new AbortController();
    const { signal } = controller;
    (async () => {
      const list = await getJson<GroupSummary[]>(api.groups(), signal);
      const details = await Promise.all(
        list.data
          .filter((g) => g.runs > 0)
          .map((g) => getJson<GroupDetail>(api.group(g.id, { points: 2 }), signal)),
      );
      const groupOf = new Map<string, string>();
      for (const { data } of details) for (const run of data.runs) groupOf.set(run.id, data.group.id);
      return { groups: new Map(list.data.map((g) => [g.id, g])), groupOf };
    })()
      .then((data) => {
        if (!signal.aborted) setState({ data, error: null });
      })
      .catch((err: unknown) => {
        if (signal.aborted || isAbort(err)) return;
        const error = err instanceof ApiError ? err : new ApiError(0, String(err));
        setState((s) => ({ data: s.data, error }));
      });
    return () => controller.abort();
  }, [enabled, refreshKey]);
  return state;
}
