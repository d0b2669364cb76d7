# syntax=docker/dockerfile:1
#
# AiCarpool: one image with the release server binary and its site folder.
# NOTE: there is no Docker engine on the development machines, so this file is
# untested there.
#
#   docker build -t aicarpool .
#   docker run -p 3000:3000 -v aicarpool-data:/data aicarpool

############################ node ############################
# Node 20 (as on the development machines): Tailwind v4's native part needs
# Node >= 20, and Debian bookworm's own nodejs is 18.
FROM node:20-bookworm-slim AS node

############################ build ############################
FROM rust:1.95-bookworm AS build

# Node/npm drive Tailwind v4 and wasm-opt (npm `binaryen`; NOT Debian's binaryen,
# whose old wasm-opt breaks the release wasm).
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/lib/node_modules /usr/local/lib/node_modules
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && node --version && npm --version

RUN rustup target add wasm32-unknown-unknown
# cargo-leptos 0.3.11 needs a newer rustc; no_downloads = use tools from PATH.
RUN cargo install --locked cargo-leptos@0.3.10 --features no_downloads
# Must equal the wasm-bindgen crate version in Cargo.lock. Not --locked on purpose.
RUN cargo install wasm-bindgen-cli@0.2.130

WORKDIR /src

# npm dependencies first so this layer is cached while only Rust sources change.
COPY package.json package-lock.json ./
RUN npm ci

COPY . .
RUN cargo leptos build --release --precompress \
 && test -x target/release/aicarpool \
 && test -d target/site

############################ runtime ############################
FROM debian:bookworm-slim AS runtime

RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 aicarpool \
 && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home \
      --shell /usr/sbin/nologin aicarpool \
 && mkdir -p /data /app \
 && chown aicarpool:aicarpool /data

COPY --from=build /src/target/release/aicarpool /usr/local/bin/aicarpool
COPY --from=build /src/target/site /app/site

ENV LEPTOS_SITE_ROOT=/app/site \
    DATA_DIR=/data \
    HOST=0.0.0.0 \
    PORT=3000

# No HEALTHCHECK: the slim image has no curl/wget; orchestrators can probe GET /healthz.
VOLUME /data
EXPOSE 3000
WORKDIR /data
USER aicarpool

ENTRYPOINT ["/usr/local/bin/aicarpool"]
CMD ["serve"]
