import { runAction } from '@mlops-actions/kit';
import action from './main';

await runAction(action);
