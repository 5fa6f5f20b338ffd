import { describe, expect, it } from 'vitest';
import {
  currentCursor,
  firstPage,
  hasNext,
  hasPrev,
  pageRange,
  pagingReducer,
  type CursorPaging,
  type PagingAction,
} from '../src/lib/paging';

const run = (actions: PagingAction[], from: CursorPaging = firstPage) => actions.reduce(pagingReducer, from);

describe('cursor paging', () => {
  it('starts on the first page without a cursor', () => {
    expect(currentCursor(firstPage)).toBeNull();
    expect(hasPrev(firstPage)).toBe(false);
    expect(hasNext(firstPage)).toBe(false);
  });

  it('walks forward with the cursors the pages give and back with the ones it kept', () => {
    let s = run([{ type: 'loaded', nextCursor: 100 }]);
    expect(hasNext(s)).toBe(true);
    s = run([{ type: 'next' }], s);
    expect(currentCursor(s)).toBe('100');
    expect(s.index).toBe(1);
    s = run([{ type: 'loaded', nextCursor: 'opaque-200' }, { type: 'next' }], s);
    expect(currentCursor(s)).toBe('opaque-200');
    s = run([{ type: 'loaded', nextCursor: null }], s);
    expect(hasNext(s)).toBe(false);
    s = run([{ type: 'prev' }], s);
    expect(currentCursor(s)).toBe('100');
    expect(hasNext(s)).toBe(true);
    s = run([{ type: 'prev' }], s);
    expect(currentCursor(s)).toBeNull();
    expect(hasPrev(s)).toBe(false);
  });

  it('does not move past either end', () => {
    expect(pagingReducer(firstPage, { type: 'prev' })).toBe(firstPage);
    expect(pagingReducer(firstPage, { type: 'next' })).toBe(firstPage);
  });

  it('forgets the pages ahead when going forward again after going back', () => {
    let s = run([
      { type: 'loaded', nextCursor: 'a' },
      { type: 'next' },
      { type: 'loaded', nextCursor: 'b' },
      { type: 'next' },
      { type: 'prev' },
      { type: 'prev' },
      { type: 'loaded', nextCursor: 'a2' },
      { type: 'next' },
    ]);
    expect(s.cursors).toEqual([null, 'a2']);
    s = run([{ type: 'reset' }], s);
    expect(s).toEqual(firstPage);
  });

  it('keeps the same state when a reload gives the same cursor', () => {
    const s = run([{ type: 'loaded', nextCursor: 'a' }]);
    expect(pagingReducer(s, { type: 'loaded', nextCursor: 'a' })).toBe(s);
  });

  it('labels the rows shown', () => {
    expect(pageRange(0, 25, 25, 120)).toBe('1–25 of 120');
    expect(pageRange(4, 25, 20, 120)).toBe('101–120 of 120');
    expect(pageRange(0, 25, 0, 0)).toBe('0 of 0');
    expect(pageRange(0, 100, 100, 1_000_000)).toBe('1–100 of 1,000,000');
  });
});
