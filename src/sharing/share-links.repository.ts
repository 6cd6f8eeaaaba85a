import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { IsNull, Repository } from 'typeorm';
import type { ConversationSnapshot } from './conversation-snapshot';
import { ShareLinkEntity } from './share-link.entity';

/** Share links in PostgreSQL: the only writer of `share_links`. */
@Injectable()
export class ShareLinksRepository {
  constructor(@InjectRepository(ShareLinkEntity) private readonly links: Repository<ShareLinkEntity>) {}

  /** Stores a link by the SHA-256 of its token. */
  insert(link: { userId: number; sessionId: number; tokenHash: string; snapshot: ConversationSnapshot; expiresAt: Date | null }): Promise<ShareLinkEntity> {
    return this.links.save(this.links.create({ ...link, revokedAt: null }));
  }

  /** @returns the link with this token hash if it is neither revoked nor expired, else null */
  async findLive(tokenHash: string): Promise<ShareLinkEntity | null> {
    const rows: ShareLinkEntity[] = await this.links
      .createQueryBuilder('l')
      .where('l.token_hash = :tokenHash AND l.revoked_at IS NULL AND (l.expires_at IS NULL OR l.expires_at > now())', { tokenHash })
      .getMany();
    return rows[0] ?? null;
  }

  /** A page of the user's links not revoked, newest first, optionally of one session. @returns the rows and their total */
  findPageOwned(userId: number, sessionId: number | undefined, skip: number, take: number): Promise<[ShareLinkEntity[], number]> {
    return this.links.findAndCount({
      where: { userId, revokedAt: IsNull(), ...(sessionId !== undefined && { sessionId }) },
      order: { id: 'DESC' },
      skip,
      take,
    });
  }

  /** Revokes an owned link not revoked yet. @returns whether it did */
  async revokeOwned(userId: number, id: number): Promise<boolean> {
    const result = await this.links.update({ id, userId, revokedAt: IsNull() }, { revokedAt: () => 'now()' });
    return Boolean(result.affected);
  }
}
