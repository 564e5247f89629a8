/**
 * Users and their API / session tokens.
 */
import { Op } from 'sequelize';
import type { StoreContext } from './context.js';
import { definedOnly, uniquely } from './context.js';
import { plain, toToken, toUser } from './records.js';
import type { TokenRepo, UserRepo } from './types.js';

export function createUserRepo({ models: { User }, write }: StoreContext): UserRepo {
  const get = async (id: number) => {
    const row = await User.findByPk(id);
    return row ? toUser(plain(row)) : null;
  };
  return {
    async create(user) {
      const row = await uniquely(`user ${user.username}`, () =>
        write(() => User.create({ ...user, createdAt: new Date(), lastLoginAt: null })),
      );
      return toUser(plain(row));
    },
    get,
    async findByUsername(username) {
      const row = await User.findOne({ where: { username } });
      return row ? toUser(plain(row)) : null;
    },
    async list() {
      return (await User.findAll({ order: [['id', 'ASC']] })).map((row) => toUser(plain(row)));
    },
    async update(id, patch) {
      const values = definedOnly(patch);
      if (Object.keys(values).length > 0) await write(() => User.update(values, { where: { id } }));
      return get(id);
    },
    count: () => User.count(),
    async delete(id) {
      await write(() => User.destroy({ where: { id } }));
    },
  };
}

export function createTokenRepo({ models: { Token }, write }: StoreContext): TokenRepo {
  return {
    async create(token) {
      const row = await uniquely('token', () =>
        write(() => Token.create({ ...token, createdAt: new Date(), lastUsedAt: null })),
      );
      return toToken(plain(row));
    },
    async findByHash(tokenHash) {
      const row = await Token.findOne({ where: { tokenHash } });
      return row ? toToken(plain(row)) : null;
    },
    async listForUser(userId) {
      return (await Token.findAll({ where: { userId }, order: [['id', 'ASC']] })).map((row) => toToken(plain(row)));
    },
    async delete(id, userId) {
      return (await write(() => Token.destroy({ where: { id, userId } }))) > 0;
    },
    async deleteByHash(tokenHash) {
      return (await write(() => Token.destroy({ where: { tokenHash } }))) > 0;
    },
    async deleteForUser(userId, exceptHash) {
      const where = exceptHash === undefined ? { userId } : { userId, tokenHash: { [Op.ne]: exceptHash } };
      return write(() => Token.destroy({ where }));
    },
    async touch(id, at) {
      await write(() => Token.update({ lastUsedAt: at }, { where: { id } }));
    },
  };
}
