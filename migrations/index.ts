import { MigrationInterface } from 'typeorm';
import { InitialSchema1795404344451 } from './1795404344451-InitialSchema';
import { UsageLedger1795600000000 } from './1795600000000-UsageLedger';
import { ContextSummaries1795600100000 } from './1795600100000-ContextSummaries';
import { PromptTemplates1795600200000 } from './1795600200000-PromptTemplates';
import { Files1795600300000 } from './1795600300000-Files';
import { UsagePurpose1795600400000 } from './1795600400000-UsagePurpose';
import { LoginSessions1795601200000 } from './1795601200000-LoginSessions';
import { LoginFailures1795601200001 } from './1795601200001-LoginFailures';
import { DurableGenerations1795601300000 } from './1795601300000-DurableGenerations';
import { IdempotencyKeys1795601300001 } from './1795601300001-IdempotencyKeys';
import { ApiKeyScopes1795601500000 } from './1795601500000-ApiKeyScopes';
import { BudgetOverrides1795601500001 } from './1795601500001-BudgetOverrides';
import { AnswerPrices1795601500002 } from './1795601500002-AnswerPrices';
import { MessageParts1795601700000 } from './1795601700000-MessageParts';
import { MessageSearch1795601800000 } from './1795601800000-MessageSearch';
import { MessageTree1795601900000 } from './1795601900000-MessageTree';
import { ShareLinks1795602000000 } from './1795602000000-ShareLinks';

/** Every migration, oldest first. A generated migration is added here after it has been read. */
export const MIGRATIONS: (new () => MigrationInterface)[] = [
  InitialSchema1795404344451,
  UsageLedger1795600000000,
  ContextSummaries1795600100000,
  PromptTemplates1795600200000,
  Files1795600300000,
  UsagePurpose1795600400000,
  LoginSessions1795601200000,
  LoginFailures1795601200001,
  DurableGenerations1795601300000,
  IdempotencyKeys1795601300001,
  ApiKeyScopes1795601500000,
  BudgetOverrides1795601500001,
  AnswerPrices1795601500002,
  MessageParts1795601700000,
  MessageSearch1795601800000,
  MessageTree1795601900000,
  ShareLinks1795602000000,
];
