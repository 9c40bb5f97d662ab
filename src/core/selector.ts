// Kubernetes label selectors (`--selector`): parsed once at start-up so a typo is one clear error,
// and matched here against a Reservation's labels where GoTel decides without the apiserver
// (a check-in for a Reservation outside this deployment's shard). The grammar is the apiserver's
// (k8s.io/apimachinery labels.Parse): requirements separated by commas, each `key`, `!key`,
// `key=value`, `key==value`, `key!=value`, `key in (a,b)` or `key notin (a,b)`.
export type SelectorOp = 'exists' | 'notexists' | '=' | '!=' | 'in' | 'notin';

export interface Requirement {
  key: string;
  op: SelectorOp;
  values: string[];
}

const NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const PREFIX = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function checkKey(key: string): string {
  const slash = key.indexOf('/');
  const [prefix, name] = slash >= 0 ? [key.slice(0, slash), key.slice(slash + 1)] : [undefined, key];
  if (!NAME.test(name) || (prefix !== undefined && (prefix.length > 253 || !PREFIX.test(prefix)))) throw new Error(`"${key}" is not a label key`);
  return key;
}

function checkValue(value: string): string {
  if (value !== '' && !NAME.test(value)) throw new Error(`"${value}" is not a label value`);
  return value;
}

/** Splits at commas outside parentheses. */
function parts(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '(') depth++;
    else if (text[i] === ')') depth--;
    else if (text[i] === ',' && depth === 0) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  out.push(text.slice(start));
  return out.map((p) => p.trim());
}

function requirement(part: string): Requirement {
  if (part === '') throw new Error('an empty requirement');
  const set = /^(\S+)\s+(in|notin)\s*\(([^()]*)\)$/.exec(part);
  if (set) {
    const values = set[3]!.split(',').map((v) => checkValue(v.trim()));
    return { key: checkKey(set[1]!), op: set[2] as 'in' | 'notin', values };
  }
  const eq = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(part);
  if (eq) return { key: checkKey(eq[1]!), op: eq[2] === '!=' ? '!=' : '=', values: [checkValue(eq[3]!)] };
  if (part.startsWith('!')) return { key: checkKey(part.slice(1).trim()), op: 'notexists', values: [] };
  return { key: checkKey(part), op: 'exists', values: [] };
}

/** The requirements of `text`; throws an Error naming what is wrong. An empty text selects everything. */
export function parseSelector(text: string): Requirement[] {
  if (text.trim() === '') return [];
  return parts(text).map((part) => {
    try {
      return requirement(part);
    } catch (err) {
      throw new Error(`label selector "${text}": ${(err as Error).message} in "${part}"`, { cause: err });
    }
  });
}

/** Whether `labels` satisfy every requirement (the apiserver's meaning: `!=` and `notin` hold when the key is absent). */
export function matchesSelector(requirements: readonly Requirement[], labels: Readonly<Record<string, string>> | undefined): boolean {
  const l = labels ?? {};
  return requirements.every(({ key, op, values }) => {
    const has = Object.hasOwn(l, key);
    const v = l[key];
    switch (op) {
      case 'exists':
        return has;
      case 'notexists':
        return !has;
      case '=':
      case 'in':
        return has && values.includes(v!);
      case '!=':
      case 'notin':
        return !has || !values.includes(v!);
    }
    return false;
  });
}
