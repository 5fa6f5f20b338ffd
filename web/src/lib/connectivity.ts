// Whether the API answers: each request source reports its outage here (and its recovery),
// and one banner shows the app's state: unavailable while any source still fails.
import { useSyncExternalStore } from 'react';

export interface Outage {
  /** What went wrong, for the banner. */
  message: string;
  /** When the next retry happens (ms since epoch). */
  retryAt: number;
}

const outages = new Map<string, Outage>();
let current: Outage | null = null;
const listeners = new Set<() => void>();

function update(): void {
  let next: Outage | null = null;
  // The banner counts down to the soonest retry.
  for (const outage of outages.values()) if (next === null || outage.retryAt < next.retryAt) next = outage;
  if (next === current) return;
  current = next;
  for (const listener of listeners) listener();
}

export function reportOutage(source: string, outage: Outage): void {
  outages.set(source, outage);
  update();
}

/** ``source`` answered (or no longer asks). */
export function reportRecovered(source: string): void {
  if (!outages.delete(source)) return;
  update();
}

export function getOutage(): Outage | null {
  return current;
}

export function useOutage(): Outage | null {
  return useSyncExternalStore(
    (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    getOutage,
    getOutage,
  );
}
