import { describe, expect, it } from 'vitest';
import { getOutage, reportOutage, reportRecovered } from '../src/lib/connectivity';

describe('connectivity', () => {
  it('stays unavailable while any source still fails', () => {
    expect(getOutage()).toBeNull();
    reportOutage('runs', { message: 'database away', retryAt: 5000 });
    reportOutage('agents', { message: 'database away', retryAt: 3000 });
    expect(getOutage()?.retryAt).toBe(3000); // the soonest retry
    reportRecovered('agents');
    expect(getOutage()?.retryAt).toBe(5000);
    reportRecovered('unrelated');
    expect(getOutage()).not.toBeNull();
    reportRecovered('runs');
    expect(getOutage()).toBeNull();
  });

  it('follows a source whose outage changes', () => {
    reportOutage('a', { message: 'first', retryAt: 1 });
    reportOutage('a', { message: 'second', retryAt: 2 });
    expect(getOutage()?.message).toBe('second');
    reportRecovered('a');
    expect(getOutage()).toBeNull();
  });
});
