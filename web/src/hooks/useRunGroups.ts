// The groups the runs list's "group by group" puts its rows under: each run names its group
// (``group_id``), the groups list gives their names and kinds. Loaded only while ``enabled``.
import { useEffect, useState } from 'react';
import { ApiError, getJson, isAbort } from '../api/client';
import { api } from '../api/routes';
import type { GroupSummary } from '../api/types';

export interface RunGroupsState {
  data: Map<string, GroupSummary> | null;
  error: ApiError | null;
}

export function useRunGroups(enabled: boolean, refreshKey: unknown): RunGroupsState {
  const [state, setState] = useState<RunGroupsState>({ data: null, error: null });
  useEffect(() => {
    if (!enabled) return undefined;
    const controller = new AbortController();
    const { signal } = controller;
    getJson<GroupSummary[]>(api.groups(), signal)
      .then(({ data }) => {
        if (!signal.aborted) setState({ data: new Map(data.map((g) => [g.id, g])), error: null });
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
