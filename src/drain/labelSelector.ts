import type { LabelSelectorInfo } from '../lifecycle/ports.js';

/**
 * Whether a label selector selects an object with `labels`, as the apiserver evaluates metav1.LabelSelector:
 * every matchLabels pair and every expression must hold (In, NotIn, Exists, DoesNotExist); an empty selector
 * selects everything. An operator Kubernetes does not define selects nothing (the apiserver would have refused it).
 */
export function selects(selector: LabelSelectorInfo, labels: Readonly<Record<string, string>>): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels)) {
    if (labels[key] !== value) return false;
  }
  return selector.matchExpressions.every(({ key, operator, values }) => {
    const has = Object.hasOwn(labels, key);
    switch (operator) {
      case 'In': return has && values.includes(labels[key]!);
      case 'NotIn': return !has || !values.includes(labels[key]!);
      case 'Exists': return has;
      case 'DoesNotExist': return !has;
      default: return false;
    }
  });
}
