// `gotel operator` (and `gotel start`) configuration: flags and GOTEL_ twins, and one clear error for bad values.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ConfigError, operatorConfigFromEnv, parseListen, toOperatorConfig } from '../../../src/operator/config.ts';

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

  it('takes a label selector (--selector): a shard gets its own leader Lease', () => {
    const all = toOperatorConfig({}, {});
    expect(all.selector).toBe('');
    expect(all.leaderLeaseName).toBe('gotel-leader');
    const a = toOperatorConfig({ selector: ' shard=a ' }, {});
    const b = toOperatorConfig({ selector: 'shard=b' }, {});
    expect(a.selector).toBe('shard=a');
    expect(a.leaderLeaseName).toMatch(/^gotel-leader-[0-9a-f]{10}$/);
    expect(b.leaderLeaseName).not.toBe(a.leaderLeaseName);
    expect(toOperatorConfig({ selector: 'shard=a' }, {}).leaderLeaseName).toBe(a.leaderLeaseName);
    expect(() => toOperatorConfig({ selector: 'shard in (a' }, {})).toThrow(/^--selector: label selector "shard in \(a"/);
  });

  it('exits 2 with one line naming the flag, from a flag or its GOTEL_ twin', { timeout: 60_000 }, async () => {
    const viaFlag = await run(process.execPath, [MAIN, 'operator', '--listen', 'nowhere'], { env: { ...process.env, KUBECONFIG: '' } }).catch((e: unknown) => e as { code: number; stderr: string });
    expect(viaFlag).toMatchObject({ code: 2 });
    expect((viaFlag as { stderr: string }).stderr).toMatch(/^gotel operator: --listen: "nowhere" is not host:port/);
    const viaEnv = await run(process.execPath, [MAIN, 'operator'], { env: { ...process.env, GOTEL_NAMESPACES: 'Bad_NS' } }).catch((e: unknown) => e as { code: number; stderr: string });
    expect(viaEnv).toMatchObject({ code: 2 });
    expect((viaEnv as { stderr: string }).stderr).toMatch(/--namespaces: "Bad_NS"/);
  });

  it('reads boolean GOTEL_ twins as true/false/1/0 only, never "on for any value"', () => {
    const api = (env: NodeJS.ProcessEnv): { enabled: boolean; anonymous: boolean } => {
      const { enabled, anonymous } = toOperatorConfig({}, env).gotelApi;
      return { enabled, anonymous };
    };
    expect(api({})).toEqual({ enabled: false, anonymous: false });
    expect(api({ GOTEL_GOTEL_API: 'true', GOTEL_GOTEL_API_ANONYMOUS: 'false' })).toEqual({ enabled: true, anonymous: false });
    expect(api({ GOTEL_GOTEL_API: '1', GOTEL_GOTEL_API_ANONYMOUS: '0' })).toEqual({ enabled: true, anonymous: false });
    expect(api({ GOTEL_GOTEL_API: 'FALSE', GOTEL_GOTEL_API_ANONYMOUS: ' True ' })).toEqual({ enabled: false, anonymous: true });
    // The flag itself wins over its twin.
    expect(toOperatorConfig({ gotelApiAnonymous: true }, { GOTEL_GOTEL_API_ANONYMOUS: 'false' }).gotelApi.anonymous).toBe(true);
    for (const bad of ['yes', 'no', 'on', '2', 'falsy']) {
      expect(() => toOperatorConfig({}, { GOTEL_GOTEL_API_ANONYMOUS: bad })).toThrow(new ConfigError(`GOTEL_GOTEL_API_ANONYMOUS: "${bad}" is not a boolean; use true, false, 1 or 0`));
    }
  });

  it('gives `gotel start` what `gotel operator` would read from the same GOTEL_ variables', () => {
    const env = { GOTEL_GOTEL_API: '1', GOTEL_GOTEL_API_ANONYMOUS: 'false', GOTEL_GOTEL_API_NAMESPACE: 'jobs', GOTEL_NAMESPACES: 'a,b', GOTEL_CHECKIN_STATUS_WRITES: '9', GOTEL_STATUS_PAGE: 'public' };
    const c = operatorConfigFromEnv(env);
    expect(c.gotelApi).toEqual({ enabled: true, anonymous: false, namespace: 'jobs' });
    expect(c.namespaces).toEqual(['a', 'b']);
    expect(c.checkinStatusWritesPerSecond).toBe(9);
    expect(c.statusPage.page).toBe('public');
    // Defaults as on the command line.
    expect(operatorConfigFromEnv({}).listen).toEqual({ host: '0.0.0.0', port: 8080 });
    expect(operatorConfigFromEnv({}).metricsListen).toEqual({ host: '0.0.0.0', port: 9090 });
    expect(() => operatorConfigFromEnv({ GOTEL_GOTEL_API: 'yes' })).toThrow(/GOTEL_GOTEL_API: "yes" is not a boolean/);
  });

  it('takes per-client check-in limits from --client-checkin-rate/-burst or their twins', () => {
    expect(operatorConfigFromEnv({}).clientLimits).toEqual({ perSecond: 0, burst: 1000 }); // off unless asked for
    expect(operatorConfigFromEnv({ GOTEL_CLIENT_CHECKIN_RATE: '0.5', GOTEL_CLIENT_CHECKIN_BURST: '20' }).clientLimits).toEqual({ perSecond: 0.5, burst: 20 });
    expect(toOperatorConfig({ clientCheckinRate: '0' }, {}).clientLimits.perSecond).toBe(0);
    expect(() => toOperatorConfig({ clientCheckinRate: 'fast' }, {})).toThrow(new ConfigError('--client-checkin-rate: "fast" is not a number (0 or more)'));
    expect(() => toOperatorConfig({ clientCheckinBurst: '0' }, {})).toThrow(/--client-checkin-burst: "0" is not a number \(1 or more\)/);
  });

  it('exits 2 on a boolean twin that is not true/false/1/0: gotel operator and gotel start alike', { timeout: 60_000 }, async () => {
    const fail = (args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stderr: string }> =>
      run(process.execPath, [MAIN, ...args], { env: { PATH: process.env.PATH, ...env } }).then(
        () => ({ code: 0, stderr: '' }),
        (e: unknown) => e as { code: number; stderr: string },
      );
    const operator = await fail(['operator', '--listen', '127.0.0.1:0'], { GOTEL_GOTEL_API_ANONYMOUS: 'yes', HOME: '/nonexistent-home' });
    expect(operator.code).toBe(2);
    expect(operator.stderr).toMatch(/^gotel operator: GOTEL_GOTEL_API_ANONYMOUS: "yes" is not a boolean/);
    // On a cluster (KUBECONFIG set): refused before it touches the cluster.
    const onCluster = await fail(['start'], { KUBECONFIG: '/nonexistent/kubeconfig', GOTEL_GOTEL_API: 'on' });
    expect(onCluster.code).toBe(2);
    expect(onCluster.stderr).toMatch(/^gotel start: GOTEL_GOTEL_API: "on" is not a boolean; use true, false, 1 or 0/);
    // The demo (no cluster): refused before it starts a control plane.
    const demo = await fail(['start'], { HOME: '/nonexistent-home', GOTEL_DEMO_PEER: 'nope' });
    expect(demo.code).toBe(2);
    expect(demo.stderr).toMatch(/^gotel start: GOTEL_DEMO_PEER: "nope" is not a boolean/);
  });

  it('says so when no cluster is configured', { timeout: 60_000 }, async () => {
    const result = await run(process.execPath, [MAIN, 'operator', '--listen', '127.0.0.1:0'], {
      env: { PATH: process.env.PATH, HOME: '/nonexistent-home' },
    }).catch((e: unknown) => e as { code: number; stderr: string });
    expect(result).toMatchObject({ code: 2 });
    expect((result as { stderr: string }).stderr).toMatch(/no cluster configured/);
  });
});
