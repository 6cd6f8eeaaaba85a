import { Module } from '@nestjs/common';
import { RedisModule } from '../rate-limit/redis.module';
import { AnswerStreams } from './answer-streams.service';

/** Answers' event logs and stop requests, shared by every instance when Redis is configured. */
@Module({ imports: [RedisModule], providers: [AnswerStreams], exports: [AnswerStreams] })
export class StreamsModule {}
