import { describe, expect, it } from 'vitest';
import { NodeEvents, combineEvents } from './nodeEvents.js';

describe('combineEvents', () => {
  it('keeps a single Event as it is', () => {
    const one = NodeEvents.targetDeregisterSucceeded('i-1:80', 'web');
    expect(combineEvents([one])).toEqual(one);
  });

  it('makes one Event with a count, every occurrence\'s sentence kept in order', () => {
    const combined = combineEvents([NodeEvents.targetDeregisterSucceeded('i-1:80', 'a'), NodeEvents.targetDeregisterSucceeded('10.0.0.1:8080', 'b')]);
    expect(combined).toEqual({
      reason: 'TargetDeregisterSucceeded', type: 'Normal', count: 2,
      message: 'target i-1:80 has successfully deregistered from target group a; target 10.0.0.1:8080 has successfully deregistered from target group b',
    });
  });

  it('stays within an Event message\'s 1024 characters and says how many it leaves out', () => {
    const events = Array.from({ length: 40 }, (_, i) => NodeEvents.targetDeregisterSucceeded(`i-0123456789abcdef0:${30000 + i}`, `k8s-namespace-service-${i}`));
    const combined = combineEvents(events);
    expect(combined.count).toBe(40);
    expect(combined.message.length).toBeLessThanOrEqual(1024);
    const shown = combined.message.split('; ').filter((m) => m.startsWith('target '));
    expect(combined.message).toMatch(new RegExp(`; and ${40 - shown.length} more$`, 'u'));
    expect(shown[0]).toBe(events[0]!.message);
  });

  it('refuses Events of different reasons', () => {
    expect(() => combineEvents([NodeEvents.targetDeregisterSucceeded('i-1:80', 'a'), NodeEvents.instanceDeregisterSucceeded('i-1', 'elb')])).toThrow(/different reasons/u);
  });
});
