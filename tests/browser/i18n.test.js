// The dashboard's strings: both languages have the same keys, and the Chinese ones are Chinese.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dictionaries } from '../../dashboard/js/i18n.js';

const HAN = /[\u4e00-\u9fff]/;
const { 'zh-CN': zh, en } = dictionaries;

test('zh-CN and en have the same keys', () => {
  assert.deepEqual(Object.keys(zh).sort(), Object.keys(en).sort());
});

test('every zh-CN string is written in Chinese (the switch to English, labelled in English, excepted)', () => {
  const notChinese = Object.entries(zh).filter(([key, text]) => !['lang_switch', 'lang_switch_label'].includes(key) && !HAN.test(text));
  assert.deepEqual(notChinese, []);
});

test('the English strings are not Chinese (the switch to Chinese excepted)', () => {
  const chinese = Object.entries(en).filter(([key, text]) => !['lang_switch', 'lang_switch_label'].includes(key) && HAN.test(text));
  assert.deepEqual(chinese, []);
});

// The field app's strings (app/js/i18n.js), by the same rules; counts are functions.
const app = (await import('../../app/js/i18n.js')).dictionaries;
const text = (v) => (typeof v === 'function' ? v(1, 2) : v);
const SYMBOLS = ['lang_switch', 'lang_switch_label', 'done_mark', 'indoor_temp_unit'];

test('the field app: zh-CN and en have the same keys', () => {
  assert.deepEqual(Object.keys(app['zh-CN']).sort(), Object.keys(app.en).sort());
});

test('the field app: zh-CN strings are Chinese, English ones are not', () => {
  assert.deepEqual(Object.entries(app['zh-CN']).filter(([k, v]) => !SYMBOLS.includes(k) && !HAN.test(text(v))), []);
  assert.deepEqual(Object.entries(app.en).filter(([k, v]) => !SYMBOLS.includes(k) && HAN.test(text(v))), []);
});
