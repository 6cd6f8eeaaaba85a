import { ShareLinkEntity } from './sharing/share-link.entity';
import { ApiKeyEntity } from './applications/api-key.entity';
import { ApplicationEntity } from './applications/application.entity';
import { LoginFailureEntity } from './credentials/login-failure.entity';
import { RefreshTokenEntity } from './credentials/refresh-token.entity';
import { ChatSessionEntity } from './chats/chat-session.entity';
import { FileContentEntity } from './files/file-content.entity';
import { FileObjectDeletionEntity } from './files/file-object-deletion.entity';
import { FileEntity } from './files/file.entity';
import { IdempotencyKeyEntity } from './idempotency/idempotency-key.entity';
import { MessageEntity } from './messages/message.entity';
import { PromptVersionEntity } from './prompts/prompt-version.entity';
import { PromptEntity } from './prompts/prompt.entity';
import { UsageDailyEntity } from './usage/usage-daily.entity';
import { UserEntity } from './users/user.entity';

/** Every entity of the schema; the app, `ormconfig.ts` and the tests all read this one list. */
export const ENTITIES = [
  UserEntity,
  RefreshTokenEntity,
  LoginFailureEntity,
  ApplicationEntity,
  ApiKeyEntity,
  ChatSessionEntity,
  MessageEntity,
  PromptEntity,
  PromptVersionEntity,
  UsageDailyEntity,
  FileEntity,
  FileContentEntity,
  FileObjectDeletionEntity,
  IdempotencyKeyEntity,
  ShareLinkEntity,
];
