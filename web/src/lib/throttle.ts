// Throttling of live refreshes: a burst of events gives one call at once and one at the end.

export interface Throttled {
  (): void;
  cancel(): void;
}

/** Calls ``fn`` at most once per ``ms``: the first call runs at once, later calls within the
 * interval collapse into one trailing call at its end. */
export function throttle(fn: () => void, ms: number): Throttled {
  let last = -Infinity;
  let timer: ReturnType<typeof setTimeout> | null = null;
  const run = () => {
    timer = null;
    last = Date.now();
    fn();
  };
  const throttled = (() => {
    const wait = last + ms - Date.now();
    if (wait <= 0 && timer === null) {
      run();
    } else if (timer === null) {
      timer = setTimeout(run, Math.max(0, wait));
    }
  }) as Throttled;
  throttled.cancel = () => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
  };
  return throttled;
}
