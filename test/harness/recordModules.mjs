// `node --import ./test/harness/recordModules.mjs …`: appends the URL of every module the process loads to the file
// named by $LM_MODULE_LOG, so a test can tell what a command loaded (e.g. that `--help` never loads the AWS SDK).
import { register } from 'node:module';

if (process.env.LM_MODULE_LOG) {
  register('./recordModulesHooks.mjs', import.meta.url, { data: { file: process.env.LM_MODULE_LOG } });
}
