// The entry of the single executable `gotel` a job carries (dist/gotel-linux-x64, /gotel/gotel in
// the image; scripts/build-exe.ts): the client commands only, with Node inside, so a job's image
// needs neither Node nor this repository. No top-level await: the bundle is a CommonJS script, as
// Node's single executable applications require.
import { registerInstall } from './install.ts';
import { baseProgram, registerClients } from './program.ts';

const program = registerClients(baseProgram());
registerInstall(program);
program
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    process.stderr.write(`gotel: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
