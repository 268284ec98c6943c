/* The playground on a model's page. Reads #playground-config (json_script: endpoint, version, task, input schema,
   image size) and builds one of:
     - a form generated from the version's input schema (number, string, enum and boolean fields; a raw JSON
       textarea for schemas it cannot render), with the result and the call's latency, tokens and cost;
     - a chat that streams through the native endpoint ("stream": true, read as server-sent events);
     - for image models with a small grid (the 8x8 digits demo), a drawing pad that fills the pixel fields.
   Calls go to the gateway with the browser session and the CSRF token, so they are metered like any API call. */
(function () {
  "use strict";

  var root = document.querySelector("[data-playground]");
  var configNode = document.getElementById("playground-config");
  if (!root || !configNode) return;
  var config = JSON.parse(configNode.textContent);
  var form = root.querySelector("[data-playground-form]");
  var body = root.querySelector("[data-playground-body]");
  var resultBox = root.querySelector("[data-playground-result]");
  var loginUrl = root.getAttribute("data-login-url");
  var MINOR_DIGITS = { USD: 2, EUR: 2, GBP: 2, USDC: 6, SOL: 9, ETH: 18, BTC: 8 };
  var FIELD_TYPES = { number: true, integer: true, string: true, boolean: true };

  // --- Small DOM helpers ----------------------------------------------------------------------------------------
  function el(tag, attributes, children) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) {
      var value = attributes[name];
      if (value === undefined || value === null || value === false) return;
      if (name === "text") node.textContent = value;
      else if (name === "class") node.className = value;
      else node.setAttribute(name, value === true ? "" : String(value));
    });
    (children || []).forEach(function (child) {
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  function csrfToken() {
    var input = form.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function request(payload, signal) {
    return fetch(config.endpoint, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        Accept: payload.stream ? "text/event-stream" : "application/json",
        "X-CSRFToken": csrfToken(),
      },
      body: JSON.stringify(payload),
      signal: signal,
    });
  }

  // --- Money, usage and errors ------------------------------------------------------------------------------------
  function formatCost(cost) {
    if (!cost || typeof cost.amount_minor !== "number") return "—";
    var digits = Object.prototype.hasOwnProperty.call(MINOR_DIGITS, cost.currency) ? MINOR_DIGITS[cost.currency] : 2;
    var amount = cost.amount_minor / Math.pow(10, digits);
    try {
      return new Intl.NumberFormat(undefined, {
        style: "currency",
        currency: cost.currency,
        minimumFractionDigits: Math.min(digits, 6),
        maximumFractionDigits: Math.min(digits, 6),
      }).format(amount);
    } catch (error) {
      return amount.toFixed(Math.min(digits, 6)) + " " + cost.currency;
    }
  }

  function callFacts(response) {
    var facts = [];
    if (typeof response.latency_ms === "number") facts.push(["Latency", response.latency_ms + " ms"]);
    var usage = response.usage || {};
    if (usage.total_tokens) {
      facts.push(["Tokens", usage.input_tokens + " in, " + usage.output_tokens + " out" + (usage.tokens_reported ? "" : " (estimated)")]);
    }
    facts.push(["Cost", formatCost(response.cost)]);
    if (response.provider) facts.push(["Provider", response.provider]);
    if (response.version) facts.push(["Version", response.version]);
    var list = el("dl", { class: "playground-facts", "data-playground-facts": true });
    facts.forEach(function (fact) {
      list.appendChild(el("div", {}, [el("dt", { text: fact[0] }), el("dd", { text: fact[1] })]));
    });
    return list;
  }

  function errorView(status, envelope, retryAfter) {
    var error = (envelope && envelope.error) || {};
    var details = error.details || {};
    var message = error.message || "The call failed (HTTP " + status + ").";
    var box = el("div", { class: "alert alert-error playground-error", role: "alert" });
    if (status === 401) {
      box.appendChild(el("p", { class: "alert-title", text: "Log in to try it" }));
      box.appendChild(el("p", {}, [el("a", { href: loginUrl, text: "Log in" }), " to run this model from your browser."]));
    } else if (status === 402) {
      box.appendChild(el("p", { class: "alert-title", text: "Not covered by your plan" }));
      box.appendChild(el("p", { text: message }));
      box.appendChild(el("p", { text: "A plan for this model raises the limit; plans are listed under Pricing plans." }));
    } else if (status === 429) {
      var seconds = parseInt(retryAfter, 10) || details.retry_after_seconds || 1;
      box.appendChild(el("p", { class: "alert-title", text: "Too many calls" }));
      box.appendChild(el("p", { text: message + " Retry after " + seconds + " s." }));
    } else {
      box.appendChild(el("p", { class: "alert-title", text: "The call failed" }));
      box.appendChild(el("p", { text: message }));
    }
    if (error.code) box.appendChild(el("p", { class: "playground-error-code" }, ["Code: ", el("code", { text: error.code })]));
    return box;
  }

  function readError(response) {
    return response
      .json()
      .catch(function () {
        return null;
      })
      .then(function (envelope) {
        return errorView(response.status, envelope, response.headers.get("Retry-After"));
      });
  }

  function networkError() {
    return errorView(0, { error: { message: "Could not reach the server. Check your connection and try again." } });
  }

  // --- Results ----------------------------------------------------------------------------------------------------
  function probabilityList(probabilities) {
    var entries = Object.keys(probabilities)
      .map(function (label) {
        return [label, Number(probabilities[label])];
      })
      .sort(function (a, b) {
        return b[1] - a[1];
      })
      .slice(0, 10);
    var list = el("ul", { class: "playground-probabilities", "aria-label": "Probabilities" });
    entries.forEach(function (entry, index) {
      var id = "pg-probability-" + index;
      var percent = (entry[1] * 100).toFixed(1) + "%";
      list.appendChild(
        el("li", {}, [
          el("span", { class: "playground-probability-label", id: id, text: entry[0] }),
          el("progress", { max: "1", value: String(entry[1]), "aria-labelledby": id }),
          el("span", { class: "playground-probability-value", text: percent }),
        ])
      );
    });
    return list;
  }

  function resultView(response) {
    var output = response.output;
    var wrap = el("div", { class: "playground-output" });
    var raw = el("pre", { class: "playground-raw" }, [el("code", { text: JSON.stringify(output, null, 2) })]);
    if (output && typeof output === "object" && output.label !== undefined) {
      wrap.appendChild(el("p", { class: "playground-answer" }, ["Prediction: ", el("strong", { "data-playground-label": true, text: String(output.label) })]));
      if (output.probabilities && typeof output.probabilities === "object") wrap.appendChild(probabilityList(output.probabilities));
      wrap.appendChild(el("details", { class: "playground-raw-details" }, [el("summary", { text: "Raw output" }), raw]));
    } else if (output && typeof output === "object" && typeof output.value === "number") {
      wrap.appendChild(el("p", { class: "playground-answer" }, ["Prediction: ", el("strong", { text: String(output.value) })]));
      wrap.appendChild(el("details", { class: "playground-raw-details" }, [el("summary", { text: "Raw output" }), raw]));
    } else {
      wrap.appendChild(raw);
    }
    wrap.appendChild(callFacts(response));
    return wrap;
  }

  // --- The form generated from the input schema ----------------------------------------------------------------
  function fieldType(schema) {
    var type = schema.type;
    if (Array.isArray(type)) {
      type = type.filter(function (item) {
        return item !== "null";
      });
      type = type.length === 1 ? type[0] : undefined;
    }
    if (!type && Array.isArray(schema.enum)) type = "string";
    return type;
  }

  function renderable(schema) {
    if (!schema || schema.type !== "object" || !schema.properties) return false;
    var keys = Object.keys(schema.properties);
    return (
      keys.length > 0 &&
      keys.every(function (key) {
        var property = schema.properties[key];
        return property && typeof property === "object" && FIELD_TYPES[fieldType(property)] === true;
      })
    );
  }

  function exampleOf(schema) {
    if (!schema || typeof schema !== "object") return undefined;
    if (schema["default"] !== undefined) return schema["default"];
    if (Array.isArray(schema.examples) && schema.examples.length) return schema.examples[0];
    if (schema.example !== undefined) return schema.example;
    return undefined;
  }

  function schemaExample(schema) {
    var example = exampleOf(schema);
    if (example !== undefined) return example;
    if (schema && schema.type === "object" && schema.properties) {
      var built = {};
      Object.keys(schema.properties).forEach(function (key) {
        var value = exampleOf(schema.properties[key]);
        if (value !== undefined) built[key] = value;
      });
      return built;
    }
    return schema && schema.type === "string" ? "" : {};
  }

  function buildControl(key, schema, id, required) {
    var type = fieldType(schema);
    var example = exampleOf(schema);
    var common = { id: id, name: key, required: required, "data-key": key };
    if (Array.isArray(schema.enum)) {
      var select = el("select", common);
      if (!required) select.appendChild(el("option", { value: "", text: "—" }));
      schema.enum.forEach(function (value, index) {
        select.appendChild(el("option", { value: String(index), text: String(value), selected: value === example }));
      });
      return select;
    }
    if (type === "boolean") return el("input", Object.assign(common, { type: "checkbox", checked: example === true }));
    if (type === "number" || type === "integer") {
      return el(
        "input",
        Object.assign(common, {
          type: "number",
          inputmode: type === "integer" ? "numeric" : "decimal",
          step: type === "integer" ? "1" : "any",
          min: schema.minimum,
          max: schema.maximum,
          placeholder: example !== undefined ? String(example) : null,
          value: example !== undefined ? String(example) : null,
        })
      );
    }
    var long = (schema.maxLength || 0) > 200 || schema.format === "textarea";
    var control = el(long ? "textarea" : "input", Object.assign(common, {
      type: long ? null : "text",
      maxlength: schema.maxLength,
      minlength: schema.minLength,
      placeholder: example !== undefined ? String(example) : null,
    }));
    if (example !== undefined) control.value = String(example);
    return control;
  }

  function buildField(key, schema, index, required) {
    var id = "pg-field-" + index;
    var control = buildControl(key, schema, id, required);
    var label = el("label", { for: id, text: (schema.title || key) + (required ? "" : " (optional)") });
    var help = schema.description ? el("p", { class: "field-help", id: id + "-help", text: schema.description }) : null;
    if (help) control.setAttribute("aria-describedby", id + "-help");
    var wrapper =
      control.type === "checkbox"
        ? el("div", { class: "field playground-field" }, [el("div", { class: "check" }, [control, label])])
        : el("div", { class: "field playground-field" }, [label, control]);
    if (help) wrapper.appendChild(help);
    return { key: key, schema: schema, type: fieldType(schema), control: control, required: required };
  }

  function SchemaForm(schema, container) {
    var required = Array.isArray(schema.required) ? schema.required : [];
    var keys = Object.keys(schema.properties);
    var order = Array.isArray(config.field_order) && config.field_order.length === keys.length ? config.field_order : keys;
    this.fields = order.map(function (key, index) {
      var field = buildField(key, schema.properties[key], index, required.indexOf(key) !== -1);
      container.appendChild(field.control.closest(".playground-field"));
      return field;
    });
  }

  SchemaForm.prototype.value = function () {
    var input = {};
    var invalid = [];
    this.fields.forEach(function (field) {
      var control = field.control;
      control.removeAttribute("aria-invalid");
      if (field.type === "boolean" && !Array.isArray(field.schema.enum)) {
        input[field.key] = control.checked;
        return;
      }
      var raw = control.value.trim();
      if (raw === "") {
        if (field.required) invalid.push(field);
        return;
      }
      if (Array.isArray(field.schema.enum)) input[field.key] = field.schema.enum[Number(raw)];
      else if (field.type === "number" || field.type === "integer") {
        if (!control.checkValidity() || !isFinite(Number(raw))) invalid.push(field);
        else input[field.key] = Number(raw);
      } else if (!control.checkValidity()) invalid.push(field);
      else input[field.key] = raw;
    });
    invalid.forEach(function (field) {
      field.control.setAttribute("aria-invalid", "true");
    });
    return { input: input, invalid: invalid };
  };

  function RawJsonForm(schema, container) {
    var example = schemaExample(schema);
    this.control = el("textarea", { id: "pg-raw-input", name: "input", class: "playground-json", spellcheck: "false", "aria-describedby": "pg-raw-help" });
    this.control.value = JSON.stringify(example, null, 2);
    container.appendChild(
      el("div", { class: "field" }, [
        el("label", { for: "pg-raw-input", text: "Input (JSON)" }),
        this.control,
        el("p", { class: "field-help", id: "pg-raw-help", text: "Sent as the request's \"input\"; see the API docs for its shape." }),
      ])
    );
    this.fields = [];
  }

  RawJsonForm.prototype.value = function () {
    this.control.removeAttribute("aria-invalid");
    try {
      return { input: JSON.parse(this.control.value), invalid: [] };
    } catch (error) {
      this.control.setAttribute("aria-invalid", "true");
      return { input: null, invalid: [{ control: this.control, schema: { title: "Input (JSON)" }, key: "input", message: "is not valid JSON" }] };
    }
  };

  function invalidView(invalid) {
    var box = el("div", { class: "alert alert-error playground-error", role: "alert" }, [el("p", { class: "alert-title", text: "Check these fields" })]);
    var list = el("ul");
    invalid.forEach(function (field) {
      list.appendChild(el("li", { text: (field.schema.title || field.key) + ": " + (field.message || field.control.validationMessage || "a value is needed") }));
    });
    box.appendChild(list);
    return box;
  }

  function initForm() {
    var schema = config.input_schema || {};
    var fieldsBox = el("div", { class: "playground-fields" });
    var editor = renderable(schema) ? new SchemaForm(schema, fieldsBox) : new RawJsonForm(schema, fieldsBox);
    var pad = config.image ? DigitPad(config.image, editor) : null;
    if (pad) {
      body.appendChild(pad.node);
      body.appendChild(el("details", { class: "playground-numbers" }, [el("summary", { text: "Show numbers" }), fieldsBox]));
    } else {
      body.appendChild(fieldsBox);
    }
    var run = el("button", { type: "submit", class: "btn", text: "Run" });
    var actions = el("div", { class: "form-actions" }, [run]);
    if (pad) actions.appendChild(pad.clearButton);
    body.appendChild(actions);

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var collected = editor.value();
      clear(resultBox);
      if (collected.invalid.length) {
        resultBox.appendChild(invalidView(collected.invalid));
        var numbers = body.querySelector(".playground-numbers");
        if (numbers) numbers.open = true;
        collected.invalid[0].control.focus();
        return;
      }
      run.disabled = true;
      run.textContent = "Running…";
      resultBox.setAttribute("aria-busy", "true");
      request({ input: collected.input, version: config.version, stream: false })
        .then(function (response) {
          if (!response.ok) return readError(response);
          return response.json().then(resultView);
        }, networkError)
        .then(function (view) {
          clear(resultBox);
          resultBox.appendChild(view);
        })
        .finally(function () {
          run.disabled = false;
          run.textContent = "Run";
          resultBox.removeAttribute("aria-busy");
        });
    });
  }

  // --- The drawing pad (small grayscale images given as one number per pixel) -------------------------------------
  function DigitPad(image, editor) {
    var width = image.width;
    var height = image.height;
    var low = typeof image.min === "number" ? image.min : 0;
    var high = typeof image.max === "number" ? image.max : 255;
    if (!editor.fields || editor.fields.length !== width * height || width * height > 1024) return null;
    var controls = new Array(width * height);
    editor.fields.forEach(function (field, index) {
      var match = /(\d+)_(\d+)$/.exec(field.key);
      var position = match ? Number(match[1]) * width + Number(match[2]) : index;
      controls[position < controls.length ? position : index] = field.control;
    });
    if (controls.some(function (control) { return !control; })) return null;

    var values = controls.map(function () {
      return low;
    });
    var cells = [];
    var focused = 0;
    var grid = el("div", { class: "playground-pad", role: "grid", "aria-label": "Drawing pad, " + width + " by " + height + " pixels", "aria-describedby": "pg-pad-help", "data-playground-pad": true });
    for (var row = 0; row < height; row += 1) {
      var rowNode = el("div", { role: "row", class: "playground-pad-row" });
      for (var column = 0; column < width; column += 1) {
        var cell = el("button", { type: "button", class: "playground-pad-cell", role: "gridcell", tabindex: row + column === 0 ? "0" : "-1", "data-index": String(row * width + column) });
        cells.push(cell);
        rowNode.appendChild(cell);
      }
      grid.appendChild(rowNode);
    }

    function show(index) {
      var shade = Math.round(((values[index] - low) / (high - low)) * 4);
      cells[index].setAttribute("data-shade", String(shade));
      var row = Math.floor(index / width) + 1;
      var column = (index % width) + 1;
      cells[index].setAttribute("aria-label", "Row " + row + ", column " + column + ": " + values[index]);
    }

    function set(index, value) {
      values[index] = Math.max(low, Math.min(high, Math.round(value)));
      controls[index].value = String(values[index]);
      show(index);
    }

    function brush(index, erase) {
      if (erase) return set(index, low);
      set(index, high);
      var row = Math.floor(index / width);
      var column = index % width;
      [[row - 1, column], [row + 1, column], [row, column - 1], [row, column + 1]].forEach(function (neighbour) {
        if (neighbour[0] < 0 || neighbour[0] >= height || neighbour[1] < 0 || neighbour[1] >= width) return;
        var other = neighbour[0] * width + neighbour[1];
        set(other, Math.max(values[other], Math.round((high - low) / 4) + low));
      });
    }

    function moveFocus(index) {
      cells[focused].setAttribute("tabindex", "-1");
      focused = index;
      cells[focused].setAttribute("tabindex", "0");
      cells[focused].focus();
    }

    function clearAll() {
      values.forEach(function (value, index) {
        set(index, low);
      });
    }

    var painting = null; // null, "paint" or "erase"
    function cellAt(event) {
      var target = document.elementFromPoint(event.clientX, event.clientY);
      return target && target.closest ? target.closest(".playground-pad-cell") : null;
    }
    grid.addEventListener("pointerdown", function (event) {
      var cell = cellAt(event);
      if (!cell) return;
      event.preventDefault();
      var index = Number(cell.getAttribute("data-index"));
      painting = event.button === 2 || values[index] === high ? "erase" : "paint";
      brush(index, painting === "erase");
    });
    grid.addEventListener("pointermove", function (event) {
      if (!painting) return;
      var cell = cellAt(event);
      if (cell) brush(Number(cell.getAttribute("data-index")), painting === "erase");
    });
    document.addEventListener("pointerup", function () {
      painting = null;
    });
    grid.addEventListener("contextmenu", function (event) {
      event.preventDefault();
    });
    grid.addEventListener("keydown", function (event) {
      var cell = event.target.closest(".playground-pad-cell");
      if (!cell) return;
      var index = Number(cell.getAttribute("data-index"));
      var row = Math.floor(index / width);
      var column = index % width;
      var moves = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
      var step = Math.max(1, Math.round((high - low) / 4));
      if (moves[event.key]) {
        var nextRow = Math.max(0, Math.min(height - 1, row + moves[event.key][0]));
        var nextColumn = Math.max(0, Math.min(width - 1, column + moves[event.key][1]));
        moveFocus(nextRow * width + nextColumn);
      } else if (event.key === "Home") moveFocus(row * width);
      else if (event.key === "End") moveFocus(row * width + width - 1);
      else if (event.key === " " || event.key === "Enter") set(index, values[index] === high ? low : high);
      else if (event.key === "Delete" || event.key === "Backspace" || event.key === "0") set(index, low);
      else if (event.key === "+" || event.key === "=") set(index, values[index] + step);
      else if (event.key === "-") set(index, values[index] - step);
      else return;
      event.preventDefault();
    });
    controls.forEach(function (control, index) {
      control.addEventListener("input", function () {
        var number = Number(control.value);
        values[index] = isFinite(number) && control.value !== "" ? Math.max(low, Math.min(high, number)) : low;
        show(index);
      });
    });
    clearAll();

    var clearButton = el("button", { type: "button", class: "btn btn-secondary", text: "Clear" });
    clearButton.addEventListener("click", function () {
      clearAll();
      cells[focused].focus();
    });
    var node = el("div", { class: "field playground-pad-field" }, [
      el("p", { class: "playground-pad-title", id: "pg-pad-title", text: "Draw a digit" }),
      grid,
      el("p", {
        class: "field-help",
        id: "pg-pad-help",
        text: "Paint with the mouse or a finger (start on a full pixel to erase). Keyboard: arrow keys move, Space paints or erases, + and − change the value (" + low + "–" + high + ").",
      }),
    ]);
    return { node: node, clearButton: clearButton };
  }

  // --- Chat: streams the reply through the native endpoint ---------------------------------------------------------
  function parseEvent(block) {
    var event = "message";
    var data = [];
    block.split("\n").forEach(function (line) {
      if (line.indexOf("event:") === 0) event = line.slice(6).trim();
      else if (line.indexOf("data:") === 0) data.push(line.slice(5).replace(/^ /, ""));
    });
    if (!data.length) return null;
    try {
      return { event: event, data: JSON.parse(data.join("\n")) };
    } catch (error) {
      return null;
    }
  }

  function readStream(response, handlers) {
    var reader = response.body.getReader();
    var decoder = new TextDecoder();
    var buffer = "";
    function pump() {
      return reader.read().then(function (chunk) {
        if (chunk.done) return;
        buffer += decoder.decode(chunk.value, { stream: true }).replace(/\r\n/g, "\n");
        var boundary = buffer.indexOf("\n\n");
        while (boundary !== -1) {
          var parsed = parseEvent(buffer.slice(0, boundary));
          buffer = buffer.slice(boundary + 2);
          if (parsed && handlers[parsed.event]) handlers[parsed.event](parsed.data);
          boundary = buffer.indexOf("\n\n");
        }
        return pump();
      });
    }
    return pump();
  }

  function initChat() {
    var history = [];
    var log = el("ol", { class: "playground-messages", role: "log", "aria-label": "Conversation", "aria-live": "polite" });
    var textarea = el("textarea", { id: "pg-chat-input", name: "message", rows: "3", required: true, "aria-describedby": "pg-chat-help" });
    var send = el("button", { type: "submit", class: "btn", text: "Send" });
    var stop = el("button", { type: "button", class: "btn btn-secondary", text: "Stop", disabled: true });
    var controller = null;
    body.appendChild(log);
    body.appendChild(
      el("div", { class: "field" }, [
        el("label", { for: "pg-chat-input", text: "Message" }),
        textarea,
        el("p", { class: "field-help", id: "pg-chat-help", text: "Ctrl+Enter sends. The reply streams in as it is written." }),
      ])
    );
    body.appendChild(el("div", { class: "form-actions" }, [send, stop]));

    function bubble(role, text) {
      var content = el("div", { class: "playground-message-text", text: text });
      var item = el("li", { class: "playground-message playground-message-" + role }, [
        el("span", { class: "playground-message-role", text: role === "user" ? "You" : "Model" }),
        content,
      ]);
      log.appendChild(item);
      item.scrollIntoView({ block: "nearest" });
      return content;
    }

    function busy(on) {
      send.disabled = on;
      stop.disabled = !on;
      textarea.readOnly = on;
    }

    textarea.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        form.requestSubmit(send);
      }
    });
    stop.addEventListener("click", function () {
      if (controller) controller.abort();
    });

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var text = textarea.value.trim();
      if (!text || controller) return;
      clear(resultBox);
      history.push({ role: "user", content: text });
      var question = bubble("user", text).closest("li");
      textarea.value = "";
      var reply = bubble("assistant", "");
      var replyText = "";
      controller = new AbortController();
      busy(true);
      request({ input: { messages: history.slice() }, version: config.version, stream: true }, controller.signal)
        .then(function (response) {
          if (!response.ok) {
            history.pop();
            question.remove();
            reply.closest("li").remove();
            textarea.value = text;
            return readError(response).then(function (view) {
              resultBox.appendChild(view);
            });
          }
          return readStream(response, {
            delta: function (data) {
              replyText += data.delta || "";
              reply.textContent = replyText;
            },
            done: function (data) {
              resultBox.appendChild(callFacts(data));
            },
            error: function (data) {
              resultBox.appendChild(errorView(502, data));
            },
          });
        })
        .catch(function (error) {
          if (error && error.name === "AbortError") {
            resultBox.appendChild(el("p", { class: "muted playground-stopped", text: "Stopped. Only the part delivered is metered." }));
          } else {
            resultBox.appendChild(networkError());
          }
        })
        .finally(function () {
          if (replyText) history.push({ role: "assistant", content: replyText });
          controller = null;
          busy(false);
          textarea.focus();
        });
    });
  }

  if (config.mode === "chat") initChat();
  else initForm();
})();
