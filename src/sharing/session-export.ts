import type { ChatSessionEntity } from '../chats/chat-session.entity';
import type { MessageEntity } from '../messages/message.entity';
import type { ContentPart } from '../providers/content-parts';
import { EXPORT_FORMAT, EXPORT_VERSION, ExportedMessageDto, SessionExportDto } from './dto/session-export.dto';
import type { ConversationSnapshot } from './conversation-snapshot';

/** A session and its whole tree in the export format (`format: chat-session`, version 1). */
export function exportJson(session: ChatSessionEntity, messages: MessageEntity[], now = new Date()): SessionExportDto {
  return {
    format: EXPORT_FORMAT,
    version: EXPORT_VERSION,
    exported_at: now.toISOString(),
    session: {
      title: session.title,
      model: session.model,
      system_prompt: session.systemPrompt,
      metadata: session.metadata,
      active_leaf_id: session.activeLeafId,
      tokens_input: session.tokensInput,
      tokens_output: session.tokensOutput,
      cost: session.cost,
      created_at: session.createdAt.toISOString(),
      updated_at: session.updatedAt.toISOString(),
    },
    messages: messages.map(
      (m): ExportedMessageDto => ({
        id: m.id,
        parent_id: m.parentId,
        role: m.role,
        content: m.content,
        parts: m.parts,
        tool_call_id: m.toolCallId,
        model: m.model,
        status: m.status,
        finish_reason: m.finishReason,
        tokens_input: m.tokensInput,
        tokens_output: m.tokensOutput,
        tokens_cached: m.tokensCached,
        tokens_reasoning: m.tokensReasoning,
        usage_estimated: m.usageEstimated,
        cost: m.cost,
        created_at: m.createdAt.toISOString(),
      }),
    ),
  };
}

const ROLE_HEADING: Record<string, string> = { user: 'User', assistant: 'Assistant', system: 'System', tool: 'Tool result' };

/** `2026-12-05 06:00 UTC` */
function when(date: Date): string {
  return `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** A fence longer than any run of backticks in `text` (CommonMark §4.5), so the block can't be closed early. */
function fence(text: string): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  return '`'.repeat(longest + 1);
}

/** A part as Markdown: text as it is, an image as a line describing it (never its data), a tool call as code. */
function partMarkdown(part: ContentPart): string {
  if (part.type === 'text') return part.text;
  if (part.type === 'image') {
    const size = part.width && part.height ? `, ${part.width}×${part.height}` : '';
    const source = part.url.startsWith('data:') ? '' : ` (${part.url})`;
    return `*[image${part.media_type ? `: ${part.media_type}` : ''}${size}]${source}*`;
  }
  const f = fence(part.arguments);
  return `Tool call \`${part.name}\` (${part.id}):\n\n${f}json\n${part.arguments}\n${f}`;
}

/**
 * The active branch of a session as a readable Markdown document: title, model, times and usage, the system
 * prompt, then each message under a heading with its role, model, time and usage.
 */
export function exportMarkdown(session: ChatSessionEntity, branch: MessageEntity[]): string {
  const lines = [
    `# ${session.title?.replace(/\s+/g, ' ') || 'Untitled conversation'}`,
    '',
    `- Model: ${session.model}`,
    `- Created: ${when(session.createdAt)} · Updated: ${when(session.updatedAt)}`,
    `- Usage: ${session.tokensInput} input tokens, ${session.tokensOutput} output tokens, $${session.cost.toFixed(6)} (every branch)`,
    `- Messages: ${branch.length} on this branch`,
    '',
  ];
  if (session.systemPrompt) lines.push(...session.systemPrompt.split('\n').map((l) => `> ${l}`), '');
  for (const m of branch) {
    const heading = [ROLE_HEADING[m.role] ?? m.role];
    if (m.role === 'tool' && m.toolCallId) heading[0] += ` (${m.toolCallId})`;
    if (m.role === 'assistant' && m.model) heading.push(m.model);
    heading.push(when(m.createdAt));
    if (m.role === 'assistant') heading.push(`${m.tokensInput} in / ${m.tokensOutput} out tokens`);
    if (m.status !== 'complete') heading.push(m.status);
    lines.push('---', '', `### ${heading.join(' · ')}`, '');
    const parts = m.parts.length ? m.parts : [{ type: 'text' as const, text: m.content }];
    lines.push(parts.map(partMarkdown).join('\n\n'), '');
  }
  return lines.join('\n');
}

/** What a share link shows of a session's active branch: titles and messages, never ids, users or emails. */
export function snapshotOf(session: ChatSessionEntity, branch: MessageEntity[]): ConversationSnapshot {
  return {
    title: session.title,
    messages: branch.map((m) => ({ role: m.role, content: m.content, parts: m.parts, model: m.model, created_at: m.createdAt.toISOString() })),
  };
}
