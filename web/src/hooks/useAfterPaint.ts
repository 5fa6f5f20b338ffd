// Renders a page in two steps: what is above the fold first, the rest once that is painted.
import { useEffect, useState } from 'react';

/** False until the frame after ``ready`` became true has been painted, then true for good. */
export function useAfterPaint(ready: boolean): boolean {
  const [done, setDone] = useState(false);
  useEffect(() => {
    if (!ready || done) return undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    // requestAnimationFrame runs before the paint; the timeout after it, once painted.
    const frame = requestAnimationFrame(() => {
      timer = setTimeout(() => setDone(true), 0);
    });
    return () => {
      cancelAnimationFrame(frame);
      if (timer !== undefined) clearTimeout(timer);
    };
  }, [ready, done]);
  return done;
}
