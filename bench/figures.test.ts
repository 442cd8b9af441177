import { describe, expect, it } from 'vitest';
import { classifyKubeRequest } from '../test/harness/kubeRequestLog.js';
import { atMost, below, counterSamples, delta, heartbeatLatenessSeconds, perEvent, percentile, percentiles, sum } from './figures.js';

describe('bench figures', () => {
  it('takes nearest-rank percentiles: p99 of 100 values is the 99th smallest, p50 of 4 the 2nd', () => {
    const hundred = Array.from({ length: 100 }, (_, i) => 100 - i); // 100 … 1, unsorted on purpose
    expect(percentile(hundred, 99)).toBe(99);
    expect(percentile(hundred, 50)).toBe(50);
    expect(percentile([4, 1, 3, 2], 50)).toBe(2);
    expect(percentile([7], 99)).toBe(7);
    expect(percentiles([])).toEqual({ p50: null, p99: null });
    expect(percentiles([1.4, 2.6])).toEqual({ p50: 1, p99: 3 });
  });

  it('measures heartbeat lateness as the longest silence beyond HeartbeatTimeout/2, start and completion included', () => {
    // HeartbeatTimeout 30 s: one heartbeat every 15 s is on time.
    expect(heartbeatLatenessSeconds(0, [100, 15_100, 30_100], 40_000, 30)).toBe(0);
    // 22 s between two heartbeats: 7 s late.
    expect(heartbeatLatenessSeconds(0, [100, 22_100], 30_000, 30)).toBeCloseTo(7, 5);
    // The first heartbeat 20 s after the action started counts too (AWS's timer runs from the start).
    expect(heartbeatLatenessSeconds(0, [20_000], 25_000, 30)).toBeCloseTo(5, 5);
    // Silence from the last heartbeat to completion counts; heartbeats arrive in any order.
    expect(heartbeatLatenessSeconds(0, [15_000, 0], 36_000, 30)).toBeCloseTo(6, 5);
    // No heartbeat at all and a completion within the interval: on time.
    expect(heartbeatLatenessSeconds(0, [], 10_000, 30)).toBe(0);
  });

  it('reads counters by label values and keeps only what moved between two scrapes', () => {
    const before = [
      '# HELP lifecycle_manager_aws_api_calls_total x',
      'lifecycle_manager_aws_api_calls_total{service="sqs",operation="ReceiveMessage"} 3',
      'lifecycle_manager_aws_api_calls_total{service="sqs",operation="GetQueueUrl"} 1',
    ].join('\n');
    const after = [
      'lifecycle_manager_aws_api_calls_total{service="sqs",operation="ReceiveMessage"} 5',
      'lifecycle_manager_aws_api_calls_total{service="sqs",operation="GetQueueUrl"} 1',
      'lifecycle_manager_aws_api_calls_total{service="autoscaling",operation="RecordLifecycleActionHeartbeat"} 4',
      'lifecycle_manager_aws_api_calls_totalx{service="sqs",operation="ReceiveMessage"} 99',
    ].join('\n');
    const moved = delta(counterSamples(before, 'lifecycle_manager_aws_api_calls_total', ['service', 'operation']),
      counterSamples(after, 'lifecycle_manager_aws_api_calls_total', ['service', 'operation']));
    expect(moved).toEqual({ 'autoscaling:RecordLifecycleActionHeartbeat': 4, 'sqs:ReceiveMessage': 2 });
    expect(sum(moved, (k) => k.endsWith('Heartbeat'))).toBe(2);
    expect(perEvent(2, 3)).toBe(0.67);
    expect(perEvent(5, 0)).toBe(0);
  });

  it('fails a budget that is exceeded or could not be measured', () => {
    expect(atMost('x', 12, 12).ok).toBe(true);
    expect(atMost('x', 12.01, 12).ok).toBe(false);
    expect(below('x', 2_000, 2_000).ok).toBe(false);
    expect(below('x', null, 2_000).ok).toBe(false);
  });

  it('tells per-node pod LISTs and the informer\'s node LIST/watch from cluster-wide LISTs', () => {
    expect(classifyKubeRequest('GET', '/api/v1/pods?fieldSelector=spec.nodeName%3Dip-10-0-0-1.ec2.internal')).toBe('pods-on-node-list');
    expect(classifyKubeRequest('GET', '/api/v1/pods?fieldSelector=status.phase%3DRunning%2Cspec.nodeName%3Dn1')).toBe('pods-on-node-list');
    expect(classifyKubeRequest('GET', '/api/v1/pods')).toBe('all-pods-list');
    expect(classifyKubeRequest('GET', '/api/v1/namespaces/default/pods?labelSelector=app%3Dweb')).toBe('all-pods-list');
    expect(classifyKubeRequest('GET', '/api/v1/pods?watch=true')).toBe('other');
    expect(classifyKubeRequest('GET', '/api/v1/pods?fieldSelector=spec.nodeName%3Dn1&watch=true&resourceVersion=7')).toBe('pods-on-node-watch');
    expect(classifyKubeRequest('GET', '/apis/policy/v1/poddisruptionbudgets?limit=500')).toBe('pdb-list');
    expect(classifyKubeRequest('GET', '/apis/policy/v1/namespaces/shop/poddisruptionbudgets')).toBe('pdb-list');
    expect(classifyKubeRequest('GET', '/apis/policy/v1/poddisruptionbudgets?watch=true')).toBe('other');
    expect(classifyKubeRequest('GET', '/api/v1/namespaces/default/pods/web-0')).toBe('other');
    expect(classifyKubeRequest('GET', '/api/v1/nodes')).toBe('all-nodes-list');
    expect(classifyKubeRequest('GET', '/api/v1/nodes?labelSelector=role%3Dworker')).toBe('all-nodes-list');
    expect(classifyKubeRequest('GET', '/api/v1/nodes?fieldSelector=metadata.name%3Dn1')).toBe('other');
    expect(classifyKubeRequest('GET', '/api/v1/nodes?watch=true&resourceVersion=190')).toBe('node-watch');
    expect(classifyKubeRequest('GET', '/api/v1/nodes/n1')).toBe('other');
    expect(classifyKubeRequest('PATCH', '/api/v1/nodes/n1')).toBe('other');
  });
});
