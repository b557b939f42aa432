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
