/* The file upload form: sends each chosen file to the API as the raw request body (streamed by the browser,
   never held in memory on the server), with a progress bar. Without this script the form posts multipart. */
(function () {
  "use strict";

  function uploadOne(form, file, onProgress) {
    return new Promise(function (resolve, reject) {
      var request = new XMLHttpRequest();
      var url = form.getAttribute("data-upload-url") + "?name=" + encodeURIComponent(file.name);
      request.open("POST", url);
      request.setRequestHeader("Content-Type", "application/octet-stream");
      request.setRequestHeader("X-CSRFToken", form.querySelector("input[name=csrfmiddlewaretoken]").value);
      request.upload.addEventListener("progress", function (event) {
        if (event.lengthComputable) onProgress(event.loaded / event.total);
      });
      request.addEventListener("load", function () {
        if (request.status === 201) return resolve();
        var message = "The upload failed (" + request.status + ").";
        try {
          message = JSON.parse(request.responseText).error.message || message;
        } catch (error) {
          /* Not our JSON envelope: keep the generic message. */
        }
        reject(new Error(file.name + ": " + message));
      });
      request.addEventListener("error", function () {
        reject(new Error(file.name + ": the connection was lost."));
      });
      request.send(file);
    });
  }

  function enhance(form) {
    var input = form.querySelector("input[type=file]");
    var progressBox = form.querySelector("[data-upload-progress]");
    var bar = progressBox.querySelector("progress");
    var label = form.querySelector("[data-upload-label]");
    var status = form.querySelector("[data-upload-status]");
    var button = form.querySelector("button[type=submit]");
    var maxBytes = parseInt(form.getAttribute("data-max-bytes"), 10);

    form.addEventListener("submit", function (event) {
      var files = Array.prototype.slice.call(input.files || []);
      if (!files.length || !window.XMLHttpRequest) return; /* let the browser post the form */
      event.preventDefault();
      var tooLarge = files.filter(function (file) { return file.size > maxBytes; });
      if (tooLarge.length) {
        status.textContent = tooLarge[0].name + " is larger than the maximum allowed.";
        return;
      }
      button.disabled = true;
      progressBox.hidden = false;
      var chain = Promise.resolve();
      files.forEach(function (file, index) {
        chain = chain.then(function () {
          label.textContent = "Uploading " + file.name + " (" + (index + 1) + " of " + files.length + ")…";
          bar.value = 0;
          return uploadOne(form, file, function (fraction) { bar.value = Math.round(fraction * 100); });
        });
      });
      chain.then(function () {
        status.textContent = "Uploaded. Validation is running…";
        window.location.reload();
      }, function (error) {
        status.textContent = error.message;
        button.disabled = false;
        progressBox.hidden = true;
      });
    });
  }

  document.querySelectorAll("[data-upload-form]").forEach(enhance);
})();
