import { SetMetadata } from '@nestjs/common';

export const OPERATION_ID_KEY = 'openapi:operationId';

/**
 * Names a route's operation in the OpenAPI document (`sendMessage`, `listSessions`): the method name of generated
 * clients, so it must stay stable. Applied by `src/openapi-conventions.ts`; kept apart from `@ApiOperation` so the
 * doc comment still becomes the operation's summary under every build (the swagger plugin does not merge a
 * summary into an explicit `@ApiOperation`).
 */
export const OperationId = (operationId: string) => SetMetadata(OPERATION_ID_KEY, operationId);
