# Production image: compiled JavaScript on Node 24, production packages only, a non-root user.
#   docker build -t jackdaw .
#   docker run --rm -e DATABASE_URL=... jackdaw node dist/migrate.js deploy   # migrations: a one-off command
#   docker run -e DATABASE_URL=... -e REDIS_URL=... -e ADMIN_API_KEY=... -p 4000:4000 jackdaw

# Build: every package (the Prisma CLI generates the client, tsc compiles src/ to dist/).
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY scripts ./scripts
COPY prisma ./prisma
COPY prisma.config.ts ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# Production packages only: no dev packages, and not the optional peers (the Prisma CLI, TypeScript) either; no
# install scripts (the client was generated and compiled in the build stage).
FROM node:24-slim AS packages
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund

FROM node:24-slim
WORKDIR /app
ENV NODE_ENV=production PORT=4000
COPY --from=packages /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The migrations, for `node dist/migrate.js deploy` and for the embedded database.
COPY package.json ./
COPY prisma ./prisma
# The status page's files (its libraries come from the production packages).
COPY public ./public
# The embedded database's folder (used only without DATABASE_URL), writable by the user the server runs as.
RUN mkdir -p /app/.data && chown node:node /app/.data
USER node
EXPOSE 4000
CMD ["node", "--enable-source-maps", "dist/main.js"]
