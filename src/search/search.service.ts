import { Injectable } from '@nestjs/common';
import { AuthenticatedUser } from '../common/authenticated-user';
import { SearchPageDto, SearchQueryDto } from './dto/search.dto';
import { SearchRepository } from './search.repository';
import { snippetHtml } from './snippet';

/** `GET /v1/chat/search`: the caller's messages matching a full-text query, across all of their sessions. */
@Injectable()
export class SearchService {
  constructor(private readonly search: SearchRepository) {}

  /** A page of matching messages, best first, each with its session, rank and highlighted snippet. */
  async searchMessages(user: AuthenticatedUser, q: SearchQueryDto): Promise<SearchPageDto> {
    const { total, hits } = await this.search.findMessageHits(user.id, q.q, q.archived ?? false, q.page_size, (q.page - 1) * q.page_size);
    return {
      total,
      page: q.page,
      page_size: q.page_size,
      items: hits.map((h) => ({
        session_id: h.session_id,
        session_title: h.session_title,
        message_id: h.id,
        role: h.role,
        snippet: snippetHtml(h.headline),
        rank: h.rank,
        created_at: h.created_at.toISOString(),
      })),
    };
  }
}
