// The official OpenAI and Anthropic SDKs (pinned in package.json) against the release binary,
// with the binary's mock provider upstream: whole and streamed replies, usage, tools, model
// lists, both dialects on both providers (the gateway translates), error classes, and an SDK
// retry after an upstream failure. No browser.

import { test, expect } from '@playwright/test';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { startCarpool, type Carpool } from './carpool';

// Independent tests; after a failure the worker restarts and beforeAll sets up afresh.

let carpool: Carpool;

test.beforeAll(async () => {
  test.setTimeout(60_000);
  carpool = await startCarpool();
});

test.afterAll(async () => {
  await carpool?.stop();
});

test.afterEach(async ({}, testInfo) => {
  if (carpool && testInfo.status !== testInfo.expectedStatus) {
    await testInfo.attach('server.log', { body: carpool.gateway.logs(), contentType: 'text/plain' });
  }
});

const GPT = 'gpt-4o-mini';
// Not claude-sonnet-4-5: the Anthropic SDK warns on every call that it is deprecated.
const CLAUDE = 'claude-haiku-4-5';

/** The mock's reply to `text`: `mock reply: ` and the words of the text. */
const reply = (text: string) => `mock reply: ${text}`;
/** Its output tokens: one per word. */
const words = (text: string) => text.trim().split(/\s+/).length;

const WEATHER_OPENAI: OpenAI.Chat.Completions.ChatCompletionTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'The current weather in a city',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string' } },
      required: ['city'],
    },
  },
};

const WEATHER_ANTHROPIC: Anthropic.Tool = {
  name: 'get_weather',
  description: 'The current weather in a city',
  input_schema: {
    type: 'object',
    properties: { city: { type: 'string' } },
    required: ['city'],
  },
};

/** A fetch that records each attempt's status, to see the SDK's retries. */
function countingFetch(statuses: number[]): typeof fetch {
  return async (input, init) => {
    const res = await fetch(input, init);
    statuses.push(res.status);
    return res;
  };
}

const openai = (opts: Partial<ConstructorParameters<typeof OpenAI>[0]> = {}) =>
  new OpenAI({
    baseURL: `${carpool.gateway.baseURL}/v1`,
    apiKey: carpool.key,
    maxRetries: 0,
    timeout: 20_000,
    ...opts,
  });

const anthropic = (opts: Partial<ConstructorParameters<typeof Anthropic>[0]> = {}) =>
  new Anthropic({
    baseURL: carpool.gateway.baseURL,
    apiKey: carpool.key,
    authToken: null,
    maxRetries: 0,
    timeout: 20_000,
    ...opts,
  });

// --- OpenAI SDK ----------------------------------------------------------------------------

for (const model of [GPT, CLAUDE]) {
  test.describe(`OpenAI SDK, ${model}`, () => {
    test('chat completion, whole', async () => {
      const text = 'hello from the openai sdk';
      const res = await openai().chat.completions.create({
        model,
        messages: [
          { role: 'system', content: 'be brief' },
          { role: 'user', content: text },
        ],
      });
      expect(res.object).toBe('chat.completion');
      expect(res.choices).toHaveLength(1);
      expect(res.choices[0].message.role).toBe('assistant');
      expect(res.choices[0].message.content).toBe(reply(text));
      expect(res.choices[0].finish_reason).toBe('stop');
      expect(res.usage?.completion_tokens).toBe(words(reply(text)));
      expect(res.usage?.prompt_tokens).toBeGreaterThan(0);
      expect(res.usage?.total_tokens).toBe(res.usage!.prompt_tokens + res.usage!.completion_tokens);
    });

    test('chat completion, streamed with include_usage', async () => {
      const text = 'stream these words please';
      const stream = await openai().chat.completions.create({
        model,
        messages: [{ role: 'user', content: text }],
        stream: true,
        stream_options: { include_usage: true },
      });
      let content = '';
      const finishReasons: string[] = [];
      const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
      for await (const chunk of stream) {
        chunks.push(chunk);
        expect(chunk.object).toBe('chat.completion.chunk');
        for (const choice of chunk.choices) {
          content += choice.delta.content ?? '';
          if (choice.finish_reason) finishReasons.push(choice.finish_reason);
        }
      }
      expect(content).toBe(reply(text));
      expect(finishReasons).toEqual(['stop']);
      expect(chunks.length).toBeGreaterThan(2);
      // The usage chunk comes last, with no choices.
      const last = chunks[chunks.length - 1];
      expect(last.choices).toEqual([]);
      expect(last.usage?.completion_tokens).toBe(words(reply(text)));
      expect(last.usage?.prompt_tokens).toBeGreaterThan(0);
      expect(chunks.slice(0, -1).every((c) => !c.usage)).toBe(true);
    });

    test('tools: the weather question becomes a tool call, whole and streamed', async () => {
      const params = {
        model,
        messages: [{ role: 'user' as const, content: 'what is the weather in Paris today?' }],
        tools: [WEATHER_OPENAI],
      };
      const res = await openai().chat.completions.create(params);
      const choice = res.choices[0];
      expect(choice.finish_reason).toBe('tool_calls');
      expect(choice.message.tool_calls).toHaveLength(1);
      const call = choice.message.tool_calls![0];
      expect(call.type).toBe('function');
      expect(call.id).toBeTruthy();
      if (call.type !== 'function') throw new Error('not a function call');
      expect(call.function.name).toBe('get_weather');
      expect(JSON.parse(call.function.arguments)).toEqual({ city: 'Paris' });

      // The SDK's stream helper assembles the tool call from its deltas.
      const runner = openai().chat.completions.stream(params);
      const final = await runner.finalChatCompletion();
      const streamed = final.choices[0];
      expect(streamed.finish_reason).toBe('tool_calls');
      expect(streamed.message.tool_calls).toHaveLength(1);
      const streamedCall = streamed.message.tool_calls![0];
      if (streamedCall.type !== 'function') throw new Error('not a function call');
      expect(streamedCall.function.name).toBe('get_weather');
      expect(JSON.parse(streamedCall.function.arguments)).toEqual({ city: 'Paris' });

      // The tool result goes back and the conversation continues.
      const next = await openai().chat.completions.create({
        model,
        tools: [WEATHER_OPENAI],
        messages: [
          ...params.messages,
          choice.message,
          { role: 'tool', tool_call_id: call.id, content: '{"temp_c":21}' },
          { role: 'user', content: 'thanks a lot' },
        ],
      });
      // Translated to Anthropic, the tool result and the text are one user turn, and the
      // mock echoes all of its text.
      expect(next.choices[0].message.content).toMatch(/^mock reply: .*thanks a lot$/);
    });

    test('responses, whole and streamed', async () => {
      const text = 'answer via the responses api';
      const res = await openai().responses.create({ model, input: text, instructions: 'be brief' });
      expect(res.object).toBe('response');
      expect(res.status).toBe('completed');
      expect(res.output_text).toBe(reply(text));
      expect(res.usage?.output_tokens).toBe(words(reply(text)));
      expect(res.usage?.input_tokens).toBeGreaterThan(0);

      const stream = await openai().responses.create({
        model,
        input: [{ role: 'user', content: text }],
        stream: true,
      });
      const types: string[] = [];
      let delta = '';
      let completed: OpenAI.Responses.Response | undefined;
      for await (const event of stream) {
        types.push(event.type);
        if (event.type === 'response.output_text.delta') delta += event.delta;
        if (event.type === 'response.completed') completed = event.response;
      }
      expect(types[0]).toBe('response.created');
      expect(types).toContain('response.output_item.added');
      expect(types).toContain('response.output_text.delta');
      expect(types).toContain('response.output_text.done');
      expect(types).toContain('response.output_item.done');
      expect(types[types.length - 1]).toBe('response.completed');
      expect(delta).toBe(reply(text));
      expect(completed?.status).toBe('completed');
      expect(completed?.usage?.output_tokens).toBe(words(reply(text)));

      // The SDK's stream helper builds the final response from the events.
      const final = await openai().responses.stream({ model, input: text }).finalResponse();
      expect(final.output_text).toBe(reply(text));
    });

    test('responses with a tool: a function_call item', async () => {
      const res = await openai().responses.create({
        model,
        input: 'what is the weather in Paris?',
        tools: [
          {
            type: 'function',
            name: 'get_weather',
            parameters: WEATHER_OPENAI.type === 'function' ? WEATHER_OPENAI.function.parameters! : {},
            strict: false,
          },
        ],
      });
      const call = res.output.find((item) => item.type === 'function_call');
      expect(call, JSON.stringify(res.output)).toBeTruthy();
      if (call?.type !== 'function_call') throw new Error('no function call');
      expect(call.name).toBe('get_weather');
      expect(JSON.parse(call.arguments)).toEqual({ city: 'Paris' });
    });
  });
}

test('OpenAI SDK: a stored response is retrieved, continued, listed and deleted', async () => {
  const client = openai();
  const text = 'remember the stored turn';
  const first = await client.responses.create({ model: GPT, input: text });
  const again = await client.responses.retrieve(first.id);
  expect(again.id).toBe(first.id);
  expect(again.status).toBe('completed');
  expect(again.output_text).toBe(reply(text));

  const items: string[] = [];
  for await (const item of client.responses.inputItems.list(first.id)) {
    if (item.type === 'message') items.push(JSON.stringify(item.content));
  }
  expect(items).toHaveLength(1);
  expect(items[0]).toContain(text);

  const next = await client.responses.create({
    model: GPT,
    input: 'and then?',
    previous_response_id: first.id,
  });
  expect(next.previous_response_id).toBe(first.id);

  const cancel = await client.responses.cancel(first.id).catch((e: unknown) => e);
  expect(cancel).toBeInstanceOf(OpenAI.BadRequestError);

  await client.responses.delete(first.id);
  const gone = await client.responses.retrieve(first.id).catch((e: unknown) => e);
  expect(gone).toBeInstanceOf(OpenAI.NotFoundError);
  expect(String((gone as Error).message)).toContain(first.id);
});

test('OpenAI SDK: models.list() lists the group models', async () => {
  const ids: string[] = [];
  for await (const model of openai().models.list()) {
    expect(model.object).toBe('model');
    ids.push(model.id);
  }
  expect(ids).toContain(GPT);
  expect(ids).toContain(CLAUDE);
});

test('OpenAI SDK: models.retrieve() returns a usable model and 404s another', async () => {
  const model = await openai().models.retrieve(GPT);
  expect(model.id).toBe(GPT);
  expect(model.object).toBe('model');
  const err = await openai()
    .models.retrieve('gpt-nonexistent')
    .catch((e: unknown) => e);
  expect(err).toBeInstanceOf(OpenAI.NotFoundError);
  expect((err as InstanceType<typeof OpenAI.NotFoundError>).message).toContain(GPT);
});

test('OpenAI SDK: a wrong key is an AuthenticationError (401)', async () => {
  const err = await openai({ apiKey: 'acp_not_a_real_key_000000000000' })
    .chat.completions.create({ model: GPT, messages: [{ role: 'user', content: 'hi' }] })
    .catch((e: unknown) => e);
  expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
  expect((err as InstanceType<typeof OpenAI.AuthenticationError>).status).toBe(401);

  const list = await openai({ apiKey: 'acp_not_a_real_key_000000000000' })
    .models.list()
    .catch((e: unknown) => e);
  expect(list).toBeInstanceOf(OpenAI.AuthenticationError);
});

test('OpenAI SDK: an unknown model is a NotFoundError (404) that lists the models', async () => {
  const err = await openai()
    .chat.completions.create({ model: 'gpt-nonexistent', messages: [{ role: 'user', content: 'hi' }] })
    .catch((e: unknown) => e);
  expect(err).toBeInstanceOf(OpenAI.NotFoundError);
  const e = err as InstanceType<typeof OpenAI.NotFoundError>;
  expect(e.status).toBe(404);
  expect(e.message).toContain('gpt-nonexistent');
  expect(e.message).toContain(GPT);
  expect(e.message).toContain(CLAUDE);
  expect(e.code).toBe('model_not_found');

  const streamed = await openai()
    .chat.completions.create({
      model: 'gpt-nonexistent',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    })
    .catch((e: unknown) => e);
  expect(streamed).toBeInstanceOf(OpenAI.NotFoundError);

  const responses = await openai()
    .responses.create({ model: 'gpt-nonexistent', input: 'hi' })
    .catch((e: unknown) => e);
  expect(responses).toBeInstanceOf(OpenAI.NotFoundError);
});

test('OpenAI SDK: a malformed request is a BadRequestError (400)', async () => {
  const err = await openai()
    .chat.completions.create({ model: GPT, messages: 'not an array' as never })
    .catch((e: unknown) => e);
  expect(err).toBeInstanceOf(OpenAI.BadRequestError);
  const e = err as InstanceType<typeof OpenAI.BadRequestError>;
  expect(e.status).toBe(400);
  expect(e.message).toMatch(/messages/);
});

// --- Anthropic SDK -------------------------------------------------------------------------

for (const model of [CLAUDE, GPT]) {
  test.describe(`Anthropic SDK, ${model}`, () => {
    test('messages.create, whole', async () => {
      const text = 'hello from the anthropic sdk';
      const res = await anthropic().messages.create({
        model,
        max_tokens: 256,
        system: 'be brief',
        messages: [{ role: 'user', content: text }],
      });
      expect(res.type).toBe('message');
      expect(res.role).toBe('assistant');
      expect(res.stop_reason).toBe('end_turn');
      expect(res.content).toHaveLength(1);
      expect(res.content[0].type).toBe('text');
      expect(res.content[0].type === 'text' && res.content[0].text).toBe(reply(text));
      expect(res.usage.output_tokens).toBe(words(reply(text)));
      expect(res.usage.input_tokens).toBeGreaterThan(0);
    });

    test('messages.stream: the events and the final message', async () => {
      const text = 'stream me some words';
      const stream = anthropic().messages.stream({
        model,
        max_tokens: 256,
        messages: [{ role: 'user', content: text }],
      });
      const types: string[] = [];
      let deltas = '';
      for await (const event of stream) {
        types.push(event.type);
        if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') {
          deltas += event.delta.text;
        }
      }
      const final = await stream.finalMessage();
      expect(types[0]).toBe('message_start');
      expect(types).toContain('content_block_start');
      expect(types).toContain('content_block_delta');
      expect(types).toContain('content_block_stop');
      expect(types).toContain('message_delta');
      expect(types[types.length - 1]).toBe('message_stop');
      expect(deltas).toBe(reply(text));
      expect(final.content[0].type === 'text' && final.content[0].text).toBe(reply(text));
      expect(final.stop_reason).toBe('end_turn');
      expect(final.usage.output_tokens).toBe(words(reply(text)));
      expect(final.usage.input_tokens).toBeGreaterThan(0);
    });

    test('tool use, whole and streamed, then the tool result', async () => {
      const params = {
        model,
        max_tokens: 256,
        tools: [WEATHER_ANTHROPIC],
        messages: [{ role: 'user' as const, content: 'what is the weather in Paris today?' }],
      };
      const res = await anthropic().messages.create(params);
      expect(res.stop_reason).toBe('tool_use');
      const use = res.content.find((b) => b.type === 'tool_use');
      if (use?.type !== 'tool_use') throw new Error(`no tool_use block: ${JSON.stringify(res.content)}`);
      expect(use.name).toBe('get_weather');
      expect(use.input).toEqual({ city: 'Paris' });
      expect(use.id).toBeTruthy();

      // The stream helper parses the input_json_delta fragments.
      const final = await anthropic().messages.stream(params).finalMessage();
      expect(final.stop_reason).toBe('tool_use');
      const streamedUse = final.content.find((b) => b.type === 'tool_use');
      if (streamedUse?.type !== 'tool_use') throw new Error('no streamed tool_use block');
      expect(streamedUse.name).toBe('get_weather');
      expect(streamedUse.input).toEqual({ city: 'Paris' });

      const next = await anthropic().messages.create({
        ...params,
        messages: [
          ...params.messages,
          { role: 'assistant', content: res.content },
          {
            role: 'user',
            content: [
              { type: 'tool_result', tool_use_id: use.id, content: '{"temp_c":21}' },
              { type: 'text', text: 'thanks a lot' },
            ],
          },
        ],
      });
      expect(next.content[0].type === 'text' && next.content[0].text).toMatch(
        /^mock reply: .*thanks a lot$/,
      );
    });

    test('messages.countTokens', async () => {
      const short = await anthropic().messages.countTokens({
        model,
        messages: [{ role: 'user', content: 'one two three' }],
      });
      const long = await anthropic().messages.countTokens({
        model,
        system: 'a system prompt of several words',
        messages: [{ role: 'user', content: 'one two three four five six seven eight nine ten' }],
      });
      expect(short.input_tokens).toBeGreaterThan(0);
      expect(long.input_tokens).toBeGreaterThan(short.input_tokens);
    });
  });
}

test('Anthropic SDK: authToken sends a Bearer token', async () => {
  const sent: Headers[] = [];
  const client = anthropic({
    apiKey: null,
    authToken: carpool.key,
    fetch: async (input, init) => {
      sent.push(new Headers(init?.headers));
      return fetch(input, init);
    },
  });
  const res = await client.messages.create({
    model: CLAUDE,
    max_tokens: 64,
    messages: [{ role: 'user', content: 'bearer works' }],
  });
  expect(res.content[0].type === 'text' && res.content[0].text).toBe(reply('bearer works'));
  expect(sent).toHaveLength(1);
  expect(sent[0].get('authorization')).toBe(`Bearer ${carpool.key}`);
  expect(sent[0].get('x-api-key')).toBeNull();
});

test('Anthropic SDK: models.list()', async () => {
  const ids: string[] = [];
  for await (const model of anthropic().models.list()) {
    expect(model.type).toBe('model');
    ids.push(model.id);
  }
  expect(ids).toContain(GPT);
  expect(ids).toContain(CLAUDE);

  // One model per page: the SDK follows the cursors (after_id = last_id while has_more) and
  // meets every model once, in the same order.
  const paged: string[] = [];
  const first = await anthropic().models.list({ limit: 1 });
  expect(first.data).toHaveLength(1);
  expect(first.has_more).toBe(ids.length > 1);
  for await (const model of anthropic().models.list({ limit: 1 })) paged.push(model.id);
  expect(paged).toEqual(ids);
  // Backwards from the last one.
  const back = await anthropic().models.list({ before_id: ids[ids.length - 1], limit: 1 });
  expect(back.data.map((m) => m.id)).toEqual([ids[ids.length - 2]]);
  // A bad limit is a BadRequestError saying what to send.
  const err = await anthropic()
    .models.list({ limit: 0 })
    .catch((e: unknown) => e);
  expect(err).toBeInstanceOf(Anthropic.BadRequestError);
  expect((err as Error).message).toContain('from 1 to 1000');
});

test('Anthropic SDK: models.retrieve() returns a usable model and 404s another', async () => {
  const model = await anthropic().models.retrieve(CLAUDE);
  expect(model.id).toBe(CLAUDE);
  expect(model.type).toBe('model');
  const err = await anthropic()
    .models.retrieve('claude-nonexistent')
    .catch((e: unknown) => e);
  expect(err).toBeInstanceOf(Anthropic.NotFoundError);
  expect((err as InstanceType<typeof Anthropic.NotFoundError>).message).toContain(CLAUDE);
});

test('Anthropic SDK: a wrong key is an AuthenticationError (401)', async () => {
  const err = await anthropic({ apiKey: 'acp_not_a_real_key_000000000000' })
    .messages.create({ model: CLAUDE, max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] })
    .catch((e: unknown) => e);
  expect(err).toBeInstanceOf(Anthropic.AuthenticationError);
  const e = err as InstanceType<typeof Anthropic.AuthenticationError>;
  expect(e.status).toBe(401);
  expect((e.error as { type?: string })?.type).toBe('error');

  const bearer = await anthropic({ apiKey: null, authToken: 'acp_not_a_real_key_000000000000' })
    .messages.create({ model: CLAUDE, max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] })
    .catch((e: unknown) => e);
  expect(bearer).toBeInstanceOf(Anthropic.AuthenticationError);
});

test('Anthropic SDK: an unknown model is a NotFoundError (404) that lists the models', async () => {
  const err = await anthropic()
    .messages.create({
      model: 'claude-nonexistent',
      max_tokens: 16,
      messages: [{ role: 'user', content: 'hi' }],
    })
    .catch((e: unknown) => e);
  expect(err).toBeInstanceOf(Anthropic.NotFoundError);
  const e = err as InstanceType<typeof Anthropic.NotFoundError>;
  expect(e.status).toBe(404);
  expect(e.message).toContain('claude-nonexistent');
  expect(e.message).toContain(CLAUDE);
  expect((e.error as { error?: { type?: string } })?.error?.type).toBe('not_found_error');

  const streamed = await anthropic()
    .messages.stream({
      model: 'claude-nonexistent',
      max_tokens: 16,
      messages: [{ role: 'user', content: 'hi' }],
    })
    .finalMessage()
    .catch((e: unknown) => e);
  expect(streamed).toBeInstanceOf(Anthropic.NotFoundError);
});

// --- Retries -------------------------------------------------------------------------------

test('an upstream 500 fails the attempt; the SDK retry then succeeds (OpenAI SDK)', async () => {
  await carpool.mock.control('POST', '/_mock/faults', {
    status: 500,
    times: 1,
    route: 'chat_completions',
  });
  const statuses: number[] = [];
  const res = await openai({ maxRetries: 2, fetch: countingFetch(statuses) }).chat.completions.create({
    model: GPT,
    messages: [{ role: 'user', content: 'retry me' }],
  });
  expect(res.choices[0].message.content).toBe(reply('retry me'));
  // The only account failed, so the gateway answered 502; the SDK retried once.
  expect(statuses).toEqual([502, 200]);
  // The fault was used up by that one failed attempt.
  expect(await carpool.mock.control('GET', '/_mock/faults')).toEqual({ faults: [] });
});

test('an upstream 500 fails the attempt; the SDK retry then succeeds (Anthropic SDK)', async () => {
  await carpool.mock.control('POST', '/_mock/faults', { status: 500, times: 1, route: 'messages' });
  const statuses: number[] = [];
  const res = await anthropic({ maxRetries: 2, fetch: countingFetch(statuses) }).messages.create({
    model: CLAUDE,
    max_tokens: 64,
    messages: [{ role: 'user', content: 'retry me' }],
  });
  expect(res.content[0].type === 'text' && res.content[0].text).toBe(reply('retry me'));
  expect(statuses).toEqual([502, 200]);
});
