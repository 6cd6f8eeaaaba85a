/**
 * The stack floor's application (see bench/stack-floor.ts): one NestJS route, a JWT guard, a validated body and the
 * OpenAI SDK.
 */
import 'reflect-metadata';
import { Body, CanActivate, Controller, ExecutionContext, Injectable, Module, Post, Res, UnauthorizedException, UseGuards, ValidationPipe } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { JwtModule, JwtService } from '@nestjs/jwt';
import { Type } from 'class-transformer';
import { ArrayNotEmpty, IsArray, IsBoolean, IsIn, IsOptional, IsString, MaxLength, ValidateNested } from 'class-validator';
import type { Request, Response } from 'express';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';

class ChatMessage {
  @IsIn(['system', 'user', 'assistant'])
  role!: 'system' | 'user' | 'assistant';

  @IsString()
  @MaxLength(100_000)
  content!: string;
}

class ChatRequest {
  @IsArray()
  @ArrayNotEmpty()
  @ValidateNested({ each: true })
  @Type(() => ChatMessage)
  messages!: ChatMessage[];

  @IsOptional()
  @IsBoolean()
  stream?: boolean;
}

/** Verifies `Authorization: Bearer <HS256 JWT>`. */
@Injectable()
class BearerGuard implements CanActivate {
  constructor(private readonly jwt: JwtService) {}

  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<Request & { user?: unknown }>();
    const header = req.headers.authorization ?? '';
    try {
      req.user = this.jwt.verify(header.slice('Bearer '.length));
    } catch {
      throw new UnauthorizedException();
    }
    return true;
  }
}

const openai = new OpenAI({ apiKey: 'sk-bench', baseURL: `${process.env.UP ?? 'http://127.0.0.1:9100'}/v1`, maxRetries: 0 });

@Controller()
class ChatController {
  @Post('chat')
  @UseGuards(BearerGuard)
  async chat(@Body() body: ChatRequest, @Res() res: Response): Promise<void> {
    const stream = await openai.chat.completions.create({ model: 'mock', stream: true, stream_options: { include_usage: true }, messages: body.messages });
    res.status(200).setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    for await (const chunk of stream) {
      const piece = chunk.choices[0]?.delta?.content;
      if (piece) res.write(`data: ${piece}\n\n`);
    }
    res.end('data: [DONE]\n\n');
  }
}

@Module({
  imports: [JwtModule.register({ secret: process.env.JWT_SECRET ?? 'bench-secret-that-is-at-least-32-characters-long' })],
  controllers: [ChatController],
  providers: [BearerGuard],
})
class StackFloorModule {}

/**
 * Listens on PORT (0 = ephemeral) at 127.0.0.1 and prints `{"port":N}` on stdout.
 */
export async function serveStackFloor(): Promise<void> {
  const app = await NestFactory.create(StackFloorModule, { logger: false });
  app.useGlobalPipes(new ValidationPipe({ transform: true, whitelist: true }));
  await app.listen(Number(process.env.PORT ?? 0), '127.0.0.1');
  const address = (app.getHttpServer() as Server).address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ port: address.port })}\n`);
}
