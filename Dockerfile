FROM node:20-slim
WORKDIR /app
COPY package.json package-lock.json ./
COPY scripts ./scripts
COPY prisma ./prisma
COPY prisma.config.ts ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build
ENV NODE_ENV=production PORT=4000
EXPOSE 4000
# Migrations first (offline WASM engine; concurrent replicas serialise on Prisma's advisory lock), then the compiled
# server: no TypeScript runs at start.
CMD ["sh", "-c", "npm run db:migrate && exec node --enable-source-maps dist/main.js"]
