import { ApiProperty } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { toInt } from '../../common/integer-transform';
import { PageMetaDto, PageQueryDto } from '../../common/pagination.dto';
import { MAX_ID } from '../../common/parse-id.pipe';
import { IsTimestamp } from '../../common/timestamp.validator';
import { PARTS_SCHEMA } from '../../messages/dto/chat-completion.dto';
import { MESSAGE_ROLES } from '../../messages/message.entity';
import type { SnapshotMessage } from '../conversation-snapshot';
import type { ShareLinkEntity } from '../share-link.entity';

/** Body of `POST /v1/chat/sessions/{id}/share`. */
export class CreateShareLinkDto {
  /** When the link stops working (ISO 8601, in the future); omitted: until revoked (or `sharing.max_link_days`). */
  @ApiProperty({ type: String, format: 'date-time', required: false })
  @IsOptional() @IsTimestamp()
  expires_at?: string;
}

/** A share link of mine, as listed (the token is shown only when the link is made). */
export class ShareLinkDto {
  @ApiProperty({ type: 'integer' }) id: number;
  @ApiProperty({ type: 'integer' }) session_id: number;
  /** The session's title when it was shared. */
  @ApiProperty({ type: String, nullable: true }) title: string | null;
  /** Messages in the snapshot. */
  @ApiProperty({ type: 'integer' }) message_count: number;
  created_at: string;
  @ApiProperty({ type: String, nullable: true, format: 'date-time' }) expires_at: string | null;
  /** True once `expires_at` has passed (the link answers 404). */
  expired: boolean;

  static from(link: ShareLinkEntity, now = new Date()): ShareLinkDto {
    return {
      id: link.id,
      session_id: link.sessionId,
      title: link.snapshot.title,
      message_count: link.snapshot.messages.length,
      created_at: link.createdAt.toISOString(),
      expires_at: link.expiresAt?.toISOString() ?? null,
      expired: link.expiresAt !== null && link.expiresAt <= now,
    };
  }
}

/** A share link just made: its token, shown this once. */
export class CreatedShareLinkDto extends ShareLinkDto {
  /** The link's secret (256 bits, base64url). Only its SHA-256 is kept: it can't be shown again. */
  token: string;
  /** The public path that shows the snapshot: `/v1/shared/{token}`. */
  url: string;
}

/** A page of my share links (API.md "Conventions": `{ total, page, page_size, items }`). */
export class ShareLinkPageDto extends PageMetaDto {
  /** My links not revoked, newest first (expired ones included, marked). */
  items: ShareLinkDto[];
}

/** One message of a shared conversation. */
export class SharedMessageDto implements SnapshotMessage {
  @ApiProperty({ enum: MESSAGE_ROLES, enumName: 'MessageRole' }) role: string;
  content: string;
  @ApiProperty(PARTS_SCHEMA) parts: unknown[];
  @ApiProperty({ type: String, nullable: true }) model: string | null;
  created_at: string;
}

/** What `GET /v1/shared/{token}` shows: the active branch of a session as it was when shared; no user, no ids. */
export class SharedConversationDto {
  @ApiProperty({ type: String, nullable: true }) title: string | null;
  shared_at: string;
  @ApiProperty({ type: String, nullable: true, format: 'date-time' }) expires_at: string | null;
  messages: SharedMessageDto[];
}

/** Query of `GET /v1/chat/shares`: a page (`page`, `page_size`) of my links, optionally of one session. */
export class ShareLinksQueryDto extends PageQueryDto {
  /** Only the links of this session. */
  @ApiProperty({ type: 'integer', required: false })
  @IsOptional() @Transform(toInt) @IsInt() @Min(1) @Max(MAX_ID)
  session_id?: number;
}
