// --metrics-listen: where /metrics is served, apart from the check-ins on --listen.
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { ConfigError, operatorOptions, toOperatorConfig } from '../../../src/operator/config.ts';

describe('--metrics-listen', () => {
  it('defaults to 0.0.0.0:9090 on the command line, with a GOTEL_METRICS_LISTEN twin', () => {
    const parsed = operatorOptions(new Command('operator')).parse([], { from: 'user' }).opts();
    expect(toOperatorConfig(parsed, {}).metricsListen).toEqual({ host: '0.0.0.0', port: 9090 });
    process.env.GOTEL_METRICS_LISTEN = '127.0.0.1:9191';
    try {
      const fromEnv = operatorOptions(new Command('operator')).parse([], { from: 'user' }).opts();
      expect(toOperatorConfig(fromEnv, {}).metricsListen).toEqual({ host: '127.0.0.1', port: 9191 });
    } finally {
      delete process.env.GOTEL_METRICS_LISTEN;
    }
  });

  it('takes a free port on --listen\'s host when a config built in code leaves it out', () => {
    expect(toOperatorConfig({ listen: '127.0.0.1:8080' }, {}).metricsListen).toEqual({ host: '127.0.0.1', port: 0 });
  });

  it('rejects what is not host:port, naming the flag', () => {
    const config = () => toOperatorConfig({ listen: '127.0.0.1:0', metricsListen: 'nowhere' }, {});
    expect(config).toThrow(ConfigError);
    expect(config).toThrow(/^--metrics-listen: "nowhere" is not host:port/);
  });
});
