// `gotel operator`: the long-running process. SIGTERM or SIGINT stops it gracefully: the leader
// releases its Lease so a standby takes over at once, work in progress finishes, then it exits.
// The Kubernetes client and server are loaded only when this command runs.
import type { Command } from 'commander';
import { ConfigError, operatorOptions, toOperatorConfig } from '../operator/config.ts';
import type { Operator } from '../operator/operator.ts';

export function registerOperator(program: Command): void {
  operatorOptions(program.command('operator').description('run the GoTel operator (flags also read from GOTEL_<FLAG> variables)')).action(
    async (opts: Record<string, unknown>) => {
      const [{ createLogger }, { createMetrics }, { loadOperatorCredentials }, { Operator }] = await Promise.all([
        import('../log.ts'),
        import('../metrics.ts'),
        import('../operator/credentials.ts'),
        import('../operator/operator.ts'),
      ]);
      let operator: Operator;
      let config: ReturnType<typeof toOperatorConfig>;
      try {
        config = toOperatorConfig(opts);
      } catch (err) {
        process.stderr.write(`gotel operator: ${(err as Error).message}\n`);
        process.exit(2);
      }
      const logger = createLogger({ level: config.logLevel });
      try {
        const kc = await loadOperatorCredentials(config.kubeconfig);
        operator = new Operator(config, kc, createMetrics(), logger);
        await operator.start();
      } catch (err) {
        if (err instanceof ConfigError) {
          process.stderr.write(`gotel operator: ${err.message}\n`);
          process.exit(2);
        }
        logger.fatal({ err: (err as Error).message }, 'operator failed to start');
        process.exit(1);
      }
      let stopping = false;
      const stop = (signal: string): void => {
        if (stopping) return;
        stopping = true;
        logger.info({ signal }, 'stopping');
        operator.stop().then(
          () => process.exit(0),
          (err: unknown) => {
            logger.error({ err: (err as Error).message }, 'stop failed');
            process.exit(1);
          },
        );
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
    },
  );
}
