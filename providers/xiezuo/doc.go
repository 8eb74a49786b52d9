// Package xiezuo is the WPS 协作 (v2 open API) provider of msgdispatch.
package xiezuo
