import { describe, expect, it } from 'vitest';
import { LAST_APPLIED, trimObject } from '../../../src/k8s/trim.ts';

describe('trimObject', () => {
  it('drops managedFields and the last-applied annotation, keeps everything GoTel reads', () => {
    const obj = {
      metadata: { name: 'r', namespace: 'ns', resourceVersion: '7', labels: { team: 'a' }, annotations: { [LAST_APPLIED]: '{"big":1}', 'gotel.io/app': 'billing' }, managedFields: [{ manager: 'kubectl' }] },
      spec: { every: '1m' },
      status: { state: 'Healthy', recent: [{ time: 't', signal: 'success' }] },
    };
    const trimmed = trimObject(obj);
    expect(trimmed).toBe(obj);
    expect(trimmed).toEqual({
      metadata: { name: 'r', namespace: 'ns', resourceVersion: '7', labels: { team: 'a' }, annotations: { 'gotel.io/app': 'billing' } },
      spec: { every: '1m' },
      status: { state: 'Healthy', recent: [{ time: 't', signal: 'success' }] },
    });
  });

  it('removes an annotations map left empty and leaves objects without metadata alone', () => {
    expect(trimObject({ metadata: { name: 'r', annotations: { [LAST_APPLIED]: '{}' } } })).toEqual({ metadata: { name: 'r' } });
    expect(trimObject({ kind: 'Status' })).toEqual({ kind: 'Status' });
  });
});
