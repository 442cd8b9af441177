import { describe, expect, it } from 'vitest';
import { selects } from './labelSelector.js';

const selector = (matchLabels: Record<string, string>, matchExpressions: { key: string; operator: string; values?: string[] }[] = []) =>
  ({ matchLabels, matchExpressions: matchExpressions.map((e) => ({ ...e, values: e.values ?? [] })) });

describe('selects', () => {
  it('an empty selector selects every pod', () => {
    expect(selects(selector({}), {})).toBe(true);
    expect(selects(selector({}), { app: 'web' })).toBe(true);
  });

  it('requires every matchLabels pair', () => {
    expect(selects(selector({ app: 'web', tier: 'front' }), { app: 'web', tier: 'front', x: 'y' })).toBe(true);
    expect(selects(selector({ app: 'web', tier: 'front' }), { app: 'web' })).toBe(false);
    expect(selects(selector({ app: 'web' }), { app: 'db' })).toBe(false);
  });

  it.each([
    ['In', ['web', 'api'], { app: 'api' }, true],
    ['In', ['web', 'api'], { app: 'db' }, false],
    ['In', ['web'], {}, false],
    ['NotIn', ['web'], { app: 'db' }, true],
    ['NotIn', ['web'], {}, true],
    ['NotIn', ['web'], { app: 'web' }, false],
    ['Exists', [], { app: '' }, true],
    ['Exists', [], {}, false],
    ['DoesNotExist', [], {}, true],
    ['DoesNotExist', [], { app: 'web' }, false],
    ['Gt', ['1'], { app: '2' }, false],
  ])('%s %j on %j: %s', (operator, values, labels, expected) => {
    expect(selects(selector({}, [{ key: 'app', operator, values }]), labels)).toBe(expected);
  });

  it('combines labels and expressions with AND', () => {
    const s = selector({ app: 'web' }, [{ key: 'track', operator: 'NotIn', values: ['canary'] }]);
    expect(selects(s, { app: 'web', track: 'stable' })).toBe(true);
    expect(selects(s, { app: 'web', track: 'canary' })).toBe(false);
  });
});
