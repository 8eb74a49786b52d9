package msgcrypt_test

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/msgdispatch/msgdispatch/providers/wecom/msgcrypt"
)

// A GET URL verification, with WeCom's published sample. The handler writes
// the returned echo back as the whole response body.
func ExampleCrypto_VerifyURL() {
	c, err := msgcrypt.New("QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "wx5823bf96d3bd56c7")
	if err != nil {
		fmt.Println(err)
		return
	}
	// The sample is from 2014; pin the clock so the replay check accepts it.
	c.Now = func() time.Time { return time.Unix(1409659589, 0) }

	rawQuery := "msg_signature=5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3&timestamp=1409659589&nonce=263014780&echostr=" +
		url.QueryEscape("P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==")
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		fmt.Println(err)
		return
	}
	echo, err := c.VerifyURL(q.Get("msg_signature"), q.Get("timestamp"), q.Get("nonce"), q.Get("echostr"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(echo))
	// Output: 1616140317555161061
}

// A passive reply: Encrypt builds the signed envelope, which the receiving
// side (here the same Crypto) authenticates and decrypts.
func ExampleCrypto_Encrypt() {
	c, err := msgcrypt.New("QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "wx5823bf96d3bd56c7")
	if err != nil {
		fmt.Println(err)
		return
	}
	c.Now = func() time.Time { return time.Unix(1409659589, 0) }
	c.Rand = strings.NewReader("0123456789abcdef") // deterministic for the example only

	reply := []byte("<xml><MsgType><![CDATA[update_button]]></MsgType><Button><ReplaceName><![CDATA[已处理]]></ReplaceName></Button></xml>")
	body, err := c.Encrypt(reply, "wx5823bf96d3bd56c7", "1409659589", "1372623149")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(strings.HasPrefix(string(body), "<xml><Encrypt><![CDATA["))

	// The reply's own signature fields, as a receiver would read them.
	sig := between(string(body), "<MsgSignature><![CDATA[", "]]>")
	msg, receiveID, err := c.DecryptXML(sig, "1409659589", "1372623149", body)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(receiveID, string(msg) == string(reply))
	// Output:
	// true
	// wx5823bf96d3bd56c7 true
}

func between(s, from, to string) string {
	_, s, _ = strings.Cut(s, from)
	s, _, _ = strings.Cut(s, to)
	return s
}
