// `gotel operator` configuration: flags and GOTEL_ twins, and one clear error for bad values.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseListen, toOperatorConfig } from '../../../src/operator/config.ts';

const MAIN = fileURLToPath(new URL('../../../src/cli/main.ts', import.meta.url));
const run = promisify(execFile);

describe('operator configuration', () => {
  it('parses listen addresses', () => {
    expect(parseListen('0.0.0.0:8080')).toEqual({ host: '0.0.0.0', port: 8080 });
    expect(parseListen('[::1]:9090')).toEqual({ host: '::1', port: 9090 });
    expect(parseListen(':8080')).toEqual({ host: '0.0.0.0', port: 8080 });
    expect(() => parseListen('8080')).toThrow(ConfigError);
    expect(() => parseListen('host:99999')).toThrow(/--listen/);
  });

  it('defaults and validates', () => {
    const c = toOperatorConfig({ listen: '127.0.0.1:0', namespaces: 'team-a, team-b' }, {});
    expect(c.namespaces).toEqual(['team-a', 'team-b']);
    expect(c.leaderElectionNamespace).toBe('default');
    expect(c.leaseDurationMs).toBe(15_000);
    expect(toOperatorConfig({}, { POD_NAMESPACE: 'gotel-system' }).leaderElectionNamespace).toBe('gotel-system');
    expect(() => toOperatorConfig({ namespaces: 'Team_A' }, {})).toThrow(/--namespaces: "Team_A"/);
    expect(() => toOperatorConfig({ slackWebhookUrl: 'not a url' }, {})).toThrow(/--slack-webhook-url/);
    expect(() => toOperatorConfig({ leaseDuration: 'soon' }, {})).toThrow(/--lease-duration/);
    expect(c.outageCatchUpMs).toBe(60_000);
    expect(toOperatorConfig({ outageCatchUp: '90s' }, {}).outageCatchUpMs).toBe(90_000);
    expect(() => toOperatorConfig({ outageCatchUp: 'later' }, {})).toThrow(/--outage-catch-up/);
    expect(toOperatorConfig({ slackWebhookUrl: 'gotel-system/slack#url' }, {}).slackWebhookUrl).toBe('gotel-system/slack#url');
  });

  it('exits 2 with one line naming the flag, from a flag or its GOTEL_ twin', async () => {
    const viaFlag = await run(process.execPath, [MAIN, 'operator', '--listen', 'nowhere'], { env: { ...process.env, KUBECONFIG: '' } }).catch((e: unknown) => e as { code: number; stderr: string });
    expect(viaFlag).toMatchObject({ code: 2 });
    expect((viaFlag as { stderr: string }).stderr).toMatch(/^gotel operator: --listen: "nowhere" is not host:port/);
    const viaEnv = await run(process.execPath, [MAIN, 'operator'], { env: { ...process.env, GOTEL_NAMESPACES: 'Bad_NS' } }).catch((e: unknown) => e as { code: number; stderr: string });
    expect(viaEnv).toMatchObject({ code: 2 });
    expect((viaEnv as { stderr: string }).stderr).toMatch(/--namespaces: "Bad_NS"/);
  });

  it('says so when no cluster is configured', async () => {
    const result = await run(process.execPath, [MAIN, 'operator', '--listen', '127.0.0.1:0'], {
      env: { PATH: process.env.PATH, HOME: '/nonexistent-home' },
    }).catch((e: unknown) => e as { code: number; stderr: string });
    expect(result).toMatchObject({ code: 2 });
    expect((result as { stderr: string }).stderr).toMatch(/no cluster configured/);
  });
});
