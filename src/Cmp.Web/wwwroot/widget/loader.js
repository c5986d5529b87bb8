/*! CMP chat widget. No dependencies, no build step.
 *
 *   <script src="https://cmp.example.com/widget/loader.js"></script>
 *   <script>WaldurWidget.init({widget_id: "…", api_key: "ar_pk_live_…", theme: "auto", position: "bottom-right"});</script>
 *
 * The CMP address is taken from this script's own src. The widget lives in an open Shadow DOM, so the
 * page's CSS cannot reach it, and every text from the server is rendered as text (never as HTML).
 */
(function () {
  'use strict';
  if (window.WaldurWidget && window.WaldurWidget.cmp) {
    return; // loaded twice: keep the first copy
  }

  var VERSION = '1.0.0';
  var THEMES = ['light', 'dark', 'auto'];
  var POSITIONS = ['bottom-right', 'bottom-left'];
  var HEX = /^#[0-9a-fA-F]{6}$/;
  var SVG = 'http://www.w3.org/2000/svg';
  var PREFIX = '[CMP widget]';

  var MESSAGES = {
    'origin-not-allowed': 'This chat isn\u2019t available on this website.',
    'limit-reached': 'This assistant has reached its usage limit. Please try again later.',
    'rate-limited': 'You\u2019re sending messages too quickly. Please wait a moment and try again.',
    'invalid-api-key': 'This chat isn\u2019t set up correctly. Please let the site owner know.',
    'secret-key-in-browser': 'This chat isn\u2019t set up correctly. Please let the site owner know.',
    'resource-not-active': 'This assistant is currently unavailable.',
    'offering-paused': 'This assistant is currently unavailable.',
    'agent-failed': 'Sorry, the assistant couldn\u2019t answer that. Please try again.',
    'validation': 'That message couldn\u2019t be sent. Please shorten it and try again.',
    offline: 'You\u2019re offline. Check your connection and try again.',
    unreachable: 'The chat service can\u2019t be reached right now. Please try again later.',
    interrupted: 'The connection was interrupted. Please try again.',
    generic: 'Something went wrong. Please try again.'
  };

  var ICONS = {
    chat: ['M12 3C6.98 3 3 6.58 3 11c0 2.4 1.17 4.55 3.02 6.02L5 21l4.3-2.15c.86.2 1.76.3 2.7.3 5.02 0 9-3.58 9-8.15S17.02 3 12 3z', true],
    close: ['M6 6l12 12M18 6L6 18', false],
    reset: ['M3 12a9 9 0 1 0 2.64-6.36L3 8.3M3 3.5v4.8h4.8', false],
    send: ['M3.4 20.4l17.45-7.48a1 1 0 0 0 0-1.84L3.4 3.6a1 1 0 0 0-1.39.91L2 9.12c0 .5.37.93.87.99L17 12 2.87 13.88c-.5.07-.87.5-.87 1l.01 4.61c0 .71.73 1.2 1.39.91z', true]
  };

  var CSS = [
    // The page may style the host element (e.g. "* { … !important }"); important rules of the shadow tree win.
    ':host{all:initial!important;display:block!important;position:static!important;visibility:visible!important;opacity:1!important;transform:none!important;filter:none!important;pointer-events:auto!important}',
    '*,*::before,*::after{box-sizing:border-box}',
    '[hidden]{display:none!important}',
    '.root{--p:#1f6feb;--pf:#fff;--ov:rgba(255,255,255,.18);--bg:#fff;--surface:#f6f7f9;--text:#1b1d21;--muted:#6b7079;--border:#e3e5e9;--bubble:#fff;--bubble-border:#e6e8ec;--field:#fff;--notice-bg:#fff4e5;--notice-text:#7a4200;--shadow:0 16px 48px rgba(16,24,40,.18),0 2px 8px rgba(16,24,40,.08);',
    'font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;font-size:14px;line-height:1.45;color:var(--text);text-align:left;-webkit-font-smoothing:antialiased}',
    '.root.dark{--bg:#1c1d21;--surface:#141518;--text:#eceef2;--muted:#9aa0a9;--border:#2c2f35;--bubble:#25272c;--bubble-border:#30333a;--field:#202226;--notice-bg:#3a2a12;--notice-text:#ffd596;--shadow:0 16px 48px rgba(0,0,0,.55),0 2px 8px rgba(0,0,0,.3)}',
    'button{font:inherit;color:inherit;background:none;border:0;margin:0;padding:0;cursor:pointer;-webkit-tap-highlight-color:transparent}',
    'svg{display:block;flex:none}',
    '.launcher{position:fixed;bottom:20px;right:20px;z-index:2147483000;width:56px;height:56px;border-radius:50%;background:var(--p);color:var(--pf);display:flex;align-items:center;justify-content:center;box-shadow:0 6px 20px rgba(16,24,40,.25);transition:transform .15s ease,box-shadow .15s ease}',
    '.launcher:hover{transform:scale(1.06);box-shadow:0 8px 26px rgba(16,24,40,.3)}',
    '.launcher:focus-visible{outline:3px solid var(--p);outline-offset:3px}',
    '.left .launcher{right:auto;left:20px}',
    '.panel{position:fixed;bottom:20px;right:20px;z-index:2147483001;width:380px;height:640px;max-height:calc(100vh - 40px);display:flex;flex-direction:column;background:var(--bg);color:var(--text);border-radius:16px;box-shadow:var(--shadow);overflow:hidden;animation:cmp-in .18s ease-out}',
    '.left .panel{right:auto;left:20px}',
    '@keyframes cmp-in{from{opacity:0;transform:translateY(12px) scale(.98)}to{opacity:1;transform:none}}',
    '.head{display:flex;align-items:center;gap:12px;padding:14px 10px 14px 16px;background:var(--p);color:var(--pf);flex:none}',
    '.avatar{width:38px;height:38px;border-radius:50%;flex:none;display:flex;align-items:center;justify-content:center;background:var(--ov);font-weight:600;font-size:16px;overflow:hidden}',
    '.avatar img{width:100%;height:100%;object-fit:cover;display:block}',
    '.titles{flex:1;min-width:0}',
    '.title{margin:0;font-size:16px;font-weight:600;line-height:1.3;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}',
    '.sub{display:flex;align-items:center;gap:6px;font-size:12px}',
    '.sub::before{content:"";width:7px;height:7px;border-radius:50%;background:#35c46b}',
    '.icon-btn{width:36px;height:36px;border-radius:10px;display:flex;align-items:center;justify-content:center;opacity:.9}',
    '.icon-btn:hover{background:var(--ov);opacity:1}',
    '.icon-btn:focus-visible{outline:2px solid var(--pf);outline-offset:-2px}',
    '.log{flex:1;overflow-y:auto;padding:18px 14px;display:flex;flex-direction:column;gap:10px;background:var(--surface);overscroll-behavior:contain}',
    '.msg{max-width:82%;padding:10px 14px;border-radius:18px;white-space:pre-wrap;overflow-wrap:anywhere;font-size:14px;line-height:1.45}',
    '.msg.assistant{align-self:flex-start;background:var(--bubble);border:1px solid var(--bubble-border);border-bottom-left-radius:6px;color:var(--text)}',
    '.msg.user{align-self:flex-end;background:var(--p);color:var(--pf);border-bottom-right-radius:6px}',
    '.msg a{color:inherit;text-decoration:underline}',
    '.typing{display:flex;gap:5px;align-items:center;padding:15px 16px}',
    '.typing span{width:7px;height:7px;border-radius:50%;background:var(--muted);animation:cmp-dot 1.2s infinite ease-in-out}',
    '.typing span:nth-child(2){animation-delay:.15s}.typing span:nth-child(3){animation-delay:.3s}',
    '@keyframes cmp-dot{0%,80%,100%{opacity:.35;transform:none}40%{opacity:1;transform:translateY(-3px)}}',
    '.notice{align-self:center;max-width:92%;text-align:center;font-size:13px;padding:9px 14px;border-radius:12px;background:var(--notice-bg);color:var(--notice-text)}',
    '.notice button{margin-left:6px;font-weight:600;text-decoration:underline}',
    '.composer{display:flex;align-items:flex-end;gap:8px;padding:12px;border-top:1px solid var(--border);background:var(--bg);flex:none}',
    '.field{flex:1;display:flex;min-width:0;border:1px solid var(--border);border-radius:22px;background:var(--field);padding:9px 16px;transition:border-color .15s,box-shadow .15s}',
    '.field:focus-within{border-color:var(--p);box-shadow:0 0 0 1px var(--p)}',
    'textarea{flex:1;min-width:0;display:block;resize:none;border:0;outline:0;margin:0;padding:0;background:transparent;color:var(--text);font:inherit;font-size:14px;line-height:20px;height:20px;max-height:120px;overflow-y:auto}',
    'textarea::placeholder{color:var(--muted);opacity:1}',
    '.send{width:40px;height:40px;border-radius:50%;flex:none;display:flex;align-items:center;justify-content:center;background:var(--p);color:var(--pf);transition:opacity .15s}',
    '.send:disabled{opacity:.4;cursor:default}',
    '.send:focus-visible{outline:3px solid var(--p);outline-offset:2px}',
    '@media (max-width:479.98px){.root .panel{top:0;left:0;right:0;bottom:0;width:auto;height:auto;max-height:none;border-radius:0}.root .launcher{bottom:16px}textarea{font-size:16px;line-height:22px;height:22px}}',
    '@media (prefers-reduced-motion:reduce){.panel,.typing span{animation:none}.launcher{transition:none}}'
  ].join('\n');

  // ---- Small helpers -------------------------------------------------------------------

  function baseFrom(src) {
    try {
      var url = new URL(src, location.href);
      var i = url.pathname.lastIndexOf('/widget/');
      return i < 0 ? '' : url.origin + url.pathname.slice(0, i);
    } catch (e) {
      return '';
    }
  }

  function scriptBase() {
    var current = document.currentScript;
    if (current && current.src) {
      return baseFrom(current.src);
    }
    var scripts = document.querySelectorAll('script[src*="/widget/loader"]');
    return scripts.length ? baseFrom(scripts[scripts.length - 1].src) : '';
  }

  var DEFAULT_BASE = scriptBase();

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      var value = attrs[name];
      if (name === 'class') {
        node.className = value;
      } else if (name.slice(0, 2) === 'on') {
        node.addEventListener(name.slice(2), value);
      } else if (value !== null && value !== undefined && value !== false) {
        node.setAttribute(name, value === true ? '' : String(value));
      }
    });
    (children || []).forEach(function (child) {
      node.append(child); // strings become text nodes
    });
    return node;
  }

  function icon(name, size) {
    var svg = document.createElementNS(SVG, 'svg');
    var path = document.createElementNS(SVG, 'path');
    var spec = ICONS[name];
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('width', String(size || 20));
    svg.setAttribute('height', String(size || 20));
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('focusable', 'false');
    path.setAttribute('d', spec[0]);
    if (spec[1]) {
      path.setAttribute('fill', 'currentColor');
    } else {
      path.setAttribute('fill', 'none');
      path.setAttribute('stroke', 'currentColor');
      path.setAttribute('stroke-width', '2');
      path.setAttribute('stroke-linecap', 'round');
      path.setAttribute('stroke-linejoin', 'round');
    }
    svg.appendChild(path);
    return svg;
  }

  /** Puts text into a node as text nodes and safe http(s) links; never parses HTML. */
  function setText(node, text) {
    var pattern = /\bhttps?:\/\/[^\s<>"']*[^\s<>"'.,;:!?)\]]/g;
    var last = 0;
    var match;
    node.textContent = '';
    while ((match = pattern.exec(text)) !== null) {
      node.append(text.slice(last, match.index));
      var link = el('a', { href: match[0], target: '_blank', rel: 'noopener noreferrer nofollow' });
      link.textContent = match[0];
      node.append(link);
      last = match.index + match[0].length;
    }
    node.append(text.slice(last));
  }

  function luminance(hex) {
    var channels = [1, 3, 5].map(function (i) {
      var c = parseInt(hex.slice(i, i + 2), 16) / 255;
      return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2];
  }

  function contrast(a, b) {
    var la = luminance(a);
    var lb = luminance(b);
    return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
  }

  function parseJson(text) {
    try {
      return JSON.parse(text);
    } catch (e) {
      return null;
    }
  }

  function WidgetError(kind, problem) {
    this.kind = MESSAGES[kind] ? kind : 'generic';
    this.problem = problem || null;
    this.message = MESSAGES[this.kind];
  }
  WidgetError.prototype = Object.create(Error.prototype);
  WidgetError.prototype.name = 'WidgetError';

  /** The widget error for an RFC 9457 problem (its type names the reason) or a bare status. */
  function problemError(problem, status) {
    var type = problem && typeof problem.type === 'string' ? problem.type.split('/').filter(Boolean).pop() : '';
    if (problem && (problem.title || problem.detail)) {
      console.warn(PREFIX, problem.title || '', problem.detail || '');
    }
    if (MESSAGES[type]) {
      return new WidgetError(type, problem);
    }
    var kind = status === 429 ? 'rate-limited' : status === 401 ? 'invalid-api-key' : status === 403 ? 'resource-not-active' : 'generic';
    return new WidgetError(kind, problem);
  }

  async function responseError(response) {
    var problem = null;
    try {
      problem = await response.json();
    } catch (e) {
      problem = null;
    }
    return problemError(problem, response.status);
  }

  /** Reads a text/event-stream body and calls onEvent(name, data) per event; comments are skipped. */
  async function readEvents(body, onEvent) {
    var reader = body.getReader();
    var decoder = new TextDecoder();
    var buffer = '';
    function dispatch(block) {
      var name = 'message';
      var data = [];
      block.split('\n').forEach(function (line) {
        if (!line || line.charAt(0) === ':') {
          return;
        }
        var colon = line.indexOf(':');
        var field = colon < 0 ? line : line.slice(0, colon);
        var value = colon < 0 ? '' : line.slice(colon + 1);
        if (value.charAt(0) === ' ') {
          value = value.slice(1);
        }
        if (field === 'event') {
          name = value;
        } else if (field === 'data') {
          data.push(value);
        }
      });
      if (data.length) {
        onEvent(name, data.join('\n'));
      }
    }
    try {
      for (;;) {
        var chunk;
        try {
          chunk = await reader.read();
        } catch (e) {
          if (e && e.name === 'AbortError') {
            throw e;
          }
          throw new WidgetError(navigator.onLine === false ? 'offline' : 'interrupted');
        }
        buffer += chunk.done ? decoder.decode() : decoder.decode(chunk.value, { stream: true });
        buffer = buffer.replace(/\r\n/g, '\n');
        var end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          dispatch(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
        }
        if (chunk.done) {
          if (buffer.trim()) {
            dispatch(buffer);
          }
          return;
        }
      }
    } finally {
      reader.cancel().catch(function () { });
    }
  }

  function storage() {
    try {
      return window.localStorage;
    } catch (e) {
      return null; // blocked (sandboxed frame, privacy settings): the conversation lasts until reload
    }
  }

  // ---- The widget ----------------------------------------------------------------------

  function Widget(options) {
    this.id = String(options.widget_id);
    this.key = String(options.api_key);
    this.base = String(options.base_url || DEFAULT_BASE || '').replace(/\/+$/, '');
    this.theme = THEMES.indexOf(options.theme) >= 0 ? options.theme : null;
    this.position = POSITIONS.indexOf(options.position) >= 0 ? options.position : null;
    if (options.theme && !this.theme) {
      console.warn(PREFIX, 'theme must be one of ' + THEMES.join(', ') + '; using the agent\u2019s setting.');
    }
    if (options.position && !this.position) {
      console.warn(PREFIX, 'position must be one of ' + POSITIONS.join(', ') + '; using the agent\u2019s setting.');
    }
    this.look = { agent_name: 'Chat', greeting: '', primary_color: '#1f6feb', secondary_color: '#ffffff', avatar_url: '', position: 'bottom-right', theme: 'auto' };
    this.storeKey = 'cmp-widget:' + this.id;
    this.state = options.preview ? { conversation: null, messages: [] } : this.load();
    this.token = null;
    this.expiresAt = 0;
    this.pending = null;
    this.sessionError = null;
    this.busy = false;
    this.isOpen = false;
    this.controller = null;
    this.generation = 0; // bumped by "New conversation": late answers to the old one are dropped
    this.timers = [];
    this.media = window.matchMedia ? window.matchMedia('(prefers-color-scheme: dark)') : null;
    this.onScheme = this.applyTheme.bind(this);
    this.onVisible = this.visibilityChanged.bind(this);
    this.onOnline = this.onlineChanged.bind(this);
    this.build();
    this.applyLook(this.look);
    this.renderAll();
    if (this.media && this.media.addEventListener) {
      this.media.addEventListener('change', this.onScheme);
    }
    document.addEventListener('visibilitychange', this.onVisible);
    window.addEventListener('online', this.onOnline);
    window.addEventListener('offline', this.onOnline);
    var self = this;
    var reveal = function () {
      self.launcher.hidden = self.isOpen;
      self.revealed = true;
    };
    if (options.preview) {
      // The console's preview: no key, no network; "busy" keeps send() and every session call away for good.
      this.busy = true;
      this.input.disabled = true;
      this.input.placeholder = 'Preview \u2014 chat is off';
      this.host.setAttribute('data-preview', '');
      reveal();
      this.open();
      return;
    }
    this.session().then(reveal, function (error) {
      self.failSession(error);
      reveal();
    });
    this.later(reveal, 4000);
    if (options.open) {
      this.open();
    }
  }

  Widget.prototype.later = function (fn, ms) {
    var timer = setTimeout(fn, ms);
    this.timers.push(timer);
    return timer;
  };

  Widget.prototype.load = function () {
    var store = storage();
    var saved = store ? parseJson(store.getItem(this.storeKey) || 'null') : null;
    var messages = saved && Array.isArray(saved.messages) ? saved.messages.filter(function (m) {
      return m && (m.role === 'user' || m.role === 'assistant') && typeof m.text === 'string';
    }) : [];
    // The conversation is the server's handle for this visitor's conversation: sent back when a session opens, so it goes on after a reload.
    return { conversation: saved && typeof saved.conversation === 'string' ? saved.conversation : null, messages: messages };
  };

  Widget.prototype.save = function () {
    var store = storage();
    if (!store) {
      return;
    }
    try {
      if (!this.state.conversation && !this.state.messages.length) {
        store.removeItem(this.storeKey);
      } else {
        store.setItem(this.storeKey, JSON.stringify({ v: 2, conversation: this.state.conversation, messages: this.state.messages.slice(-200) }));
      }
    } catch (e) {
      // quota exceeded: keep going without persistence
    }
  };

  Widget.prototype.build = function () {
    var self = this;
    this.host = document.createElement('cmp-chat-widget');
    this.host.setAttribute('data-widget-id', this.id);
    this.shadow = this.host.attachShadow({ mode: 'open' });
    if (typeof CSSStyleSheet === 'function' && 'adoptedStyleSheets' in this.shadow && 'replaceSync' in CSSStyleSheet.prototype) {
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS); // constructed sheets also work under a strict style-src CSP
      this.shadow.adoptedStyleSheets = [sheet];
    } else {
      this.shadow.appendChild(el('style', {}, [CSS]));
    }

    this.launcher = el('button', {
      type: 'button', class: 'launcher', 'aria-label': 'Open chat', 'aria-haspopup': 'dialog', 'aria-expanded': 'false',
      'aria-controls': 'cmp-panel', title: 'Open chat', hidden: true, onclick: function () { self.open(); }
    }, [icon('chat', 28)]);

    this.avatar = el('div', { class: 'avatar', 'aria-hidden': 'true' });
    this.title = el('h2', { class: 'title', id: 'cmp-title' });
    this.resetButton = el('button', { type: 'button', class: 'icon-btn', 'aria-label': 'New conversation', title: 'New conversation', onclick: function () { self.reset(); } }, [icon('reset', 19)]);
    this.closeButton = el('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Close chat', title: 'Close chat', onclick: function () { self.close(); } }, [icon('close', 20)]);
    var head = el('div', { class: 'head' }, [
      this.avatar,
      el('div', { class: 'titles' }, [this.title, el('div', { class: 'sub' }, ['AI assistant'])]),
      this.resetButton,
      this.closeButton
    ]);

    this.log = el('div', { class: 'log', role: 'log', 'aria-live': 'polite', 'aria-label': 'Conversation' });

    this.input = el('textarea', {
      rows: '1', 'aria-label': 'Message', placeholder: 'Write a message\u2026', maxlength: '10000', enterkeyhint: 'send',
      oninput: function () { self.autosize(); self.sync(); },
      onkeydown: function (e) {
        if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
          e.preventDefault();
          self.send();
        }
      }
    });
    this.sendButton = el('button', { type: 'submit', class: 'send', 'aria-label': 'Send', title: 'Send', disabled: true }, [icon('send', 19)]);
    var composer = el('form', {
      class: 'composer', onsubmit: function (e) { e.preventDefault(); self.send(); }
    }, [el('div', { class: 'field' }, [this.input]), this.sendButton]);

    this.panel = el('div', {
      class: 'panel', id: 'cmp-panel', role: 'dialog', 'aria-modal': 'false', 'aria-labelledby': 'cmp-title', hidden: true,
      onkeydown: function (e) {
        if (e.key === 'Escape') {
          e.stopPropagation();
          self.close();
        }
      }
    }, [head, this.log, composer]);

    this.root = el('div', { class: 'root' }, [this.launcher, this.panel]);
    this.shadow.appendChild(this.root);
    (document.body || document.documentElement).appendChild(this.host);
  };

  Widget.prototype.applyLook = function (config) {
    var look = this.look;
    ['agent_name', 'greeting', 'avatar_url'].forEach(function (name) {
      if (typeof config[name] === 'string') {
        look[name] = config[name];
      }
    });
    ['primary_color', 'secondary_color'].forEach(function (name) {
      if (HEX.test(config[name] || '')) {
        look[name] = config[name];
      }
    });
    if (POSITIONS.indexOf(config.position) >= 0) {
      look.position = config.position;
    }
    if (THEMES.indexOf(config.theme) >= 0) {
      look.theme = config.theme;
    }
    var primary = look.primary_color;
    // Text on the primary colour: the secondary colour when it reads well, else black or white.
    var fore = contrast(look.secondary_color, primary) >= 3 ? look.secondary_color
      : contrast('#ffffff', primary) >= contrast('#111111', primary) ? '#ffffff' : '#111111';
    this.root.style.setProperty('--p', primary);
    this.root.style.setProperty('--pf', fore);
    this.root.style.setProperty('--ov', luminance(fore) > 0.5 ? 'rgba(255,255,255,.18)' : 'rgba(0,0,0,.08)');
    this.root.classList.toggle('left', (this.position || look.position) === 'bottom-left');
    this.applyTheme();

    var name = look.agent_name.trim() || 'Chat';
    this.title.textContent = name;
    this.title.title = name;
    this.avatar.textContent = '';
    var letter = Array.from(name)[0] || '?';
    var avatar = this.avatar;
    if (/^https:\/\//i.test(look.avatar_url)) {
      var img = el('img', { alt: '', src: look.avatar_url, referrerpolicy: 'no-referrer' });
      img.addEventListener('error', function () {
        avatar.textContent = letter.toUpperCase();
      });
      avatar.appendChild(img);
    } else {
      avatar.textContent = letter.toUpperCase();
    }
    if (this.greeting) {
      setText(this.greeting, look.greeting);
      this.greeting.hidden = !look.greeting.trim();
    }
    if (this.typing) {
      this.typing.setAttribute('aria-label', name + ' is typing');
    }
  };

  Widget.prototype.applyTheme = function () {
    var theme = this.theme || this.look.theme;
    var dark = theme === 'dark' || (theme === 'auto' && !!this.media && this.media.matches);
    this.root.classList.toggle('dark', dark);
  };

  // ---- Messages ------------------------------------------------------------------------

  Widget.prototype.bubble = function (role, text) {
    var node = el('div', { class: 'msg ' + role, 'data-role': role });
    setText(node, text);
    this.log.appendChild(node);
    return node;
  };

  Widget.prototype.renderAll = function () {
    var self = this;
    this.log.textContent = '';
    this.notice = null;
    this.greeting = this.bubble('assistant', this.look.greeting);
    this.greeting.classList.add('greeting');
    this.greeting.hidden = !this.look.greeting.trim();
    this.state.messages.forEach(function (m) {
      self.bubble(m.role, m.text);
    });
    if (this.sessionError) {
      this.showNotice(this.sessionError, true);
    }
    this.scroll(true);
  };

  Widget.prototype.scroll = function (force) {
    var log = this.log;
    if (force || log.scrollHeight - log.scrollTop - log.clientHeight < 120) {
      log.scrollTop = log.scrollHeight;
    }
  };

  Widget.prototype.showNotice = function (error, retry) {
    var self = this;
    this.clearNotice();
    var kind = error instanceof WidgetError ? error.kind : 'generic';
    var children = [MESSAGES[kind]];
    if (retry && kind !== 'invalid-api-key' && kind !== 'secret-key-in-browser') {
      children.push(el('button', {
        type: 'button', onclick: function () {
          self.clearNotice();
          self.sessionError = null;
          self.session().catch(function (e) {
            self.failSession(e);
          });
        }
      }, ['Try again']));
    }
    this.notice = el('div', { class: 'notice', role: 'alert', 'data-kind': kind }, children);
    this.log.appendChild(this.notice);
    this.scroll(true);
  };

  Widget.prototype.clearNotice = function () {
    if (this.notice) {
      this.notice.remove();
      this.notice = null;
    }
  };

  Widget.prototype.autosize = function () {
    this.input.style.height = 'auto';
    this.input.style.height = Math.min(this.input.scrollHeight, 120) + 'px';
  };

  Widget.prototype.sync = function () {
    this.sendButton.disabled = this.busy || !this.input.value.trim();
  };

  // ---- Network -------------------------------------------------------------------------

  Widget.prototype.request = async function (path, init) {
    init.credentials = 'omit';
    init.mode = 'cors';
    init.cache = 'no-store';
    try {
      return await fetch(this.base + path, init);
    } catch (e) {
      if (e && e.name === 'AbortError') {
        throw e;
      }
      throw new WidgetError(await this.diagnose());
    }
  };

  /**
   * A refused CORS request and a network failure look the same to a page. The loader itself is served to
   * every origin: when it answers, the server is up and refused this website; when it does not, we are offline.
   */
  Widget.prototype.diagnose = async function () {
    if (navigator.onLine === false) {
      return 'offline';
    }
    try {
      await fetch(this.base + '/widget/loader.js', { method: 'HEAD', mode: 'cors', credentials: 'omit', cache: 'no-store' });
      console.warn(PREFIX, 'The CMP server refused ' + location.origin + ': add ' + location.hostname + ' to the agent\u2019s allowed_domains.');
      return 'origin-not-allowed';
    } catch (e) {
      return navigator.onLine === false ? 'offline' : 'unreachable';
    }
  };

  Widget.prototype.openSession = async function () {
    if (this.key.indexOf('ar_sk_') === 0) {
      console.error(PREFIX, 'A secret key must never be put in a web page: revoke it and create a publishable key (ar_pk_live_\u2026) for the widget.');
      throw new WidgetError('secret-key-in-browser');
    }
    var response = await this.request('/api/agent-gateway/widget-session/', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ widget_id: this.id, api_key: this.key, conversation: this.state.conversation || undefined })
    });
    if (!response.ok) {
      throw await responseError(response);
    }
    var session = await response.json();
    var life = Math.max(30, Number(session.expires_in) || 1800);
    this.token = session.token;
    if (typeof session.conversation === 'string' && session.conversation !== this.state.conversation) {
      this.state.conversation = session.conversation;
      this.save();
    }
    this.expiresAt = Date.now() + life * 1000;
    this.sessionError = null;
    if (session.config) {
      this.applyLook(session.config);
    }
    this.scheduleRenewal(Math.max(10, life - 120) * 1000);
  };

  /** Renews the token ahead of its expiry; a failed renewal is retried while the old token still works. */
  Widget.prototype.scheduleRenewal = function (ms) {
    var self = this;
    clearTimeout(this.renewTimer);
    this.renewTimer = this.later(function () {
      self.session(true).catch(function (error) {
        if (self.expiresAt - Date.now() > 60000) {
          self.scheduleRenewal(30000);
        } else {
          self.failSession(error);
        }
      });
    }, ms);
  };

  /** A valid session token, renewed when it expires within a minute; concurrent callers share one request. */
  Widget.prototype.session = function (force) {
    if (!force && this.token && this.expiresAt - Date.now() > 60000) {
      return Promise.resolve();
    }
    var self = this;
    if (!this.pending) {
      this.pending = this.openSession().then(function () {
        self.pending = null;
      }, function (error) {
        self.pending = null;
        throw error;
      });
    }
    return this.pending;
  };

  Widget.prototype.failSession = function (error) {
    this.token = null;
    this.sessionError = error instanceof WidgetError ? error : new WidgetError('generic');
    if (!this.busy) {
      this.showNotice(this.sessionError, true);
    }
  };

  Widget.prototype.visibilityChanged = function () {
    if (document.visibilityState === 'visible' && this.token && this.expiresAt - Date.now() < 120000) {
      var self = this;
      this.session(true).catch(function (e) {
        self.failSession(e);
      });
    }
  };

  Widget.prototype.onlineChanged = function () {
    var self = this;
    if (navigator.onLine === false) {
      if (!this.busy) {
        this.showNotice(new WidgetError('offline'), false);
      }
    } else if (this.notice && this.notice.getAttribute('data-kind') === 'offline') {
      this.clearNotice();
      if (!this.token) {
        this.session().catch(function (e) {
          self.failSession(e);
        });
      }
    }
  };

  Widget.prototype.invoke = async function (text, retried) {
    await this.session();
    this.controller = new AbortController();
    var response;
    try {
      response = await this.request('/api/agent-gateway/invoke/', {
        method: 'POST',
        signal: this.controller.signal,
        headers: { 'Content-Type': 'application/json', 'Accept': 'text/event-stream', 'Authorization': 'Bearer ' + this.token },
        body: JSON.stringify({ input: text, stream: true })
      });
    } catch (error) {
      // A refused token may come back without CORS headers (unreadable): retry once with a fresh session.
      if (retried || !(error instanceof WidgetError) || error.kind !== 'origin-not-allowed') {
        throw error;
      }
      this.token = null;
      return this.invoke(text, true);
    }
    if (response.status === 401 && !retried) {
      this.token = null; // the session expired (a sleeping laptop): open a new one and try once more
      return this.invoke(text, true);
    }
    if (!response.ok) {
      throw await responseError(response);
    }
    return response;
  };

  Widget.prototype.send = async function () {
    var text = this.input.value.trim();
    if (!text || this.busy) {
      return;
    }
    var self = this;
    this.busy = true;
    this.log.setAttribute('aria-busy', 'true'); // screen readers announce the reply once it is complete
    this.clearNotice();
    var message = { role: 'user', text: text };
    this.state.messages.push(message);
    var sent = this.bubble('user', text);
    this.save();
    this.input.value = '';
    this.autosize();
    this.sync();
    this.typing = el('div', { class: 'msg assistant typing', role: 'status', 'aria-label': this.title.textContent + ' is typing' },
      [el('span'), el('span'), el('span')]);
    this.log.appendChild(this.typing);
    this.scroll(true);
    var reply = null;
    var streamed = '';
    var generation = this.generation;
    try {
      var response = await this.invoke(text);
      if (generation !== this.generation) {
        this.controller.abort();
        return;
      }
      var answer = null;
      if ((response.headers.get('Content-Type') || '').indexOf('text/event-stream') >= 0) {
        await readEvents(response.body, function (name, data) {
          var payload = parseJson(data);
          if (name === 'token' && payload && typeof payload.text === 'string') {
            streamed += payload.text;
            if (!reply) {
              self.typing.remove();
              reply = self.bubble('assistant', '');
            }
            setText(reply, streamed);
            self.scroll();
          } else if (name === 'end') {
            answer = payload;
          } else if (name === 'error') {
            throw problemError(payload, payload && payload.status);
          }
        });
      } else {
        answer = await response.json();
      }
      if (!answer || typeof answer.output !== 'string') {
        throw new WidgetError('interrupted');
      }
      this.typing.remove();
      reply = reply || this.bubble('assistant', '');
      setText(reply, answer.output);
      this.state.messages.push({ role: 'assistant', text: answer.output });
      this.save();
      this.scroll();
    } catch (error) {
      this.typing.remove();
      if (reply) {
        reply.remove();
      }
      if ((error && error.name === 'AbortError') || generation !== this.generation) {
        return;
      }
      // Not answered: take the message back into the box, and say why.
      var at = this.state.messages.indexOf(message);
      if (at >= 0) {
        this.state.messages.splice(at, 1);
      }
      sent.remove();
      this.save();
      if (!this.input.value) {
        this.input.value = text;
        this.autosize();
      }
      if (!(error instanceof WidgetError)) {
        console.error(PREFIX, error);
      }
      this.showNotice(error instanceof WidgetError ? error : new WidgetError('generic'), false);
    } finally {
      this.typing = null;
      this.busy = false;
      this.log.removeAttribute('aria-busy');
      this.controller = null;
      this.sync();
    }
  };

  // ---- Open, close, reset --------------------------------------------------------------

  Widget.prototype.open = function () {
    if (this.isOpen) {
      return;
    }
    var self = this;
    this.isOpen = true;
    this.panel.hidden = false;
    this.launcher.hidden = true;
    this.launcher.setAttribute('aria-expanded', 'true');
    this.scroll(true);
    this.input.focus();
    if (!this.token && !this.pending && this.sessionError) {
      this.session().catch(function (e) {
        self.failSession(e);
      });
    }
  };

  Widget.prototype.close = function () {
    if (!this.isOpen) {
      return;
    }
    this.isOpen = false;
    this.panel.hidden = true;
    this.launcher.hidden = false;
    this.launcher.setAttribute('aria-expanded', 'false');
    this.launcher.focus();
  };

  Widget.prototype.reset = function () {
    this.generation++;
    if (this.controller) {
      this.controller.abort();
    }
    this.state = { conversation: null, messages: [] };
    this.token = null; // the session is bound to the old conversation: the next message opens a new one
    this.save();
    this.renderAll();
    this.input.focus();
  };

  Widget.prototype.destroy = function () {
    if (this.controller) {
      this.controller.abort();
    }
    this.timers.forEach(clearTimeout);
    clearTimeout(this.renewTimer);
    if (this.media && this.media.removeEventListener) {
      this.media.removeEventListener('change', this.onScheme);
    }
    document.removeEventListener('visibilitychange', this.onVisible);
    window.removeEventListener('online', this.onOnline);
    window.removeEventListener('offline', this.onOnline);
    this.host.remove();
    delete instances[this.id];
  };

  // ---- Global API ----------------------------------------------------------------------

  var instances = {};

  function handle(widget) {
    return {
      open: function () { widget.open(); },
      close: function () { widget.close(); },
      reset: function () { widget.reset(); },
      destroy: function () { widget.destroy(); }
    };
  }

  function init(options) {
    options = options || {};
    if (!options.widget_id || !options.api_key) {
      console.error(PREFIX, 'WaldurWidget.init needs {widget_id, api_key}.');
      return null;
    }
    var id = String(options.widget_id);
    if (instances[id]) {
      return handle(instances[id]);
    }
    if (!document.body) {
      var api = {};
      document.addEventListener('DOMContentLoaded', function () {
        Object.assign(api, init(options));
      });
      return api;
    }
    instances[id] = new Widget(options);
    return handle(instances[id]);
  }

  /**
   * The buyer console's live preview of unsaved settings: the real launcher and panel, opened, with the composer
   * disabled and labelled as a preview; no key, no network. Call again with new values to update it.
   */
  function preview(look) {
    var widget = instances.preview || (instances.preview = new Widget({ widget_id: 'preview', api_key: '', preview: true }));
    widget.applyLook(look || {});
    return handle(widget);
  }

  window.WaldurWidget = { cmp: true, version: VERSION, init: init, preview: preview };
})();
