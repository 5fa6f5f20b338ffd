// Live updates: Server-Sent Events from /api/events (`event: run`), with refreshes throttled.
// Should the stream be refused for good, the page polls instead while it stays enabled.
import { useEffect, useRef, useState } from 'react';
import { api } from '../api/routes';
import type { RunEvent } from '../api/types';
import { throttle } from '../lib/throttle';

export type LiveState = 'off' | 'connecting' | 'live' | 'polling';

const POLL_MS = 5000;

/** Calls ``onUpdate`` (at most once per ``throttleMs``) when a run event arrives for
 * ``runId`` (any run when undefined), while ``enabled``. */
export function useRunEvents(
  enabled: boolean,
  runId: string | undefined,
  onUpdate: (event: RunEvent | null) => void,
  throttleMs = 1500,
): LiveState {
  const [state, setState] = useState<LiveState>('off');
  const callback = useRef(onUpdate);
  callback.current = onUpdate;

  useEffect(() => {
    if (!enabled) {
      setState('off');
      return undefined;
    }
    let latest: RunEvent | null = null;
    const fire = throttle(() => callback.current(latest), throttleMs);
    let poll: ReturnType<typeof setInterval> | null = null;
    setState('connecting');
    const source = new EventSource(api.events(runId));
    source.addEventListener('open', () => setState('live'));
    source.addEventListener('run', (message) => {
      try {
        latest = JSON.parse((message as MessageEvent<string>).data) as RunEvent;
      } catch {
        latest = null;
      }
      if (runId === undefined || latest === null || latest.run_id === runId) fire();
    });
    source.addEventListener('error', () => {
      // EventSource reconnects by itself unless the server refused the stream.
      if (source.readyState === EventSource.CLOSED && poll === null) {
        setState('polling');
        poll = setInterval(() => callback.current(null), POLL_MS);
      } else if (source.readyState === EventSource.CONNECTING) {
        setState('connecting');
      }
    });
    return () => {
      source.close();
      fire.cancel();
      if (poll !== null) clearInterval(poll);
    };
  }, [enabled, runId, throttleMs]);

  return state;
}
